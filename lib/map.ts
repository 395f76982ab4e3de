// The map of a chunk store (zb-map(5)): DEST/PREFIX/map.json. Top-level key = source
// dataset, as in the original tool, whose maps we read (lib/legacy.ts knows their
// filters). Written atomically (temp + fsync + rename + fsync dir) under a lock file.
import { openSync, closeSync, readFileSync, renameSync, unlinkSync, linkSync, statSync, fsyncSync } from 'node:fs';
import { fsync as fsyncCb } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { ZbError } from './cli.js';
import { writeFd } from './io.js';
import type { Filter, Meta } from './stream.js';

export const MAP_VERSION = 1;
/** Holds {version}; a dataset name starts with a letter, so it can never be '@…'. */
export const VERSION_KEY = '@zfsbackup';
const fsync = promisify(fsyncCb);

export interface ChunkRef { name: string; size: number; sha256: string }
/** One stored snapshot, as this tool writes it. */
export interface Entry {
  name: string; guid: string; createtxg?: string; creation?: number;
  incremental: boolean; parent: { name: string; guid: string } | null;
  intermediates?: boolean; recursive: boolean; raw?: boolean;
  size: number | null;           // the sender's estimate, when zfs could give one
  filters: Filter[];             // as data, in the order they were applied
  chunks: ChunkRef[];            // names relative to DEST/PREFIX/chunks/
  bytes: number;                 // stored payload bytes (sum of chunk sizes)
  host?: string; time?: string;  // who wrote the stream and when (the header's)
  written: string;               // when the entry was committed
}
/** One snapshot as the original Python tool wrote it. */
export interface LegacyEntry {
  Name: string; CreationTime?: number; incremental?: boolean; parent?: string;
  chunks: string[]; filters?: string[][]; Recursive?: boolean; SizeEstimate?: number;
  [k: string]: unknown;
}
export type AnyEntry = Entry | LegacyEntry;
export type MapDoc = Record<string, any>;

export const isLegacy = (e: AnyEntry): e is LegacyEntry => typeof (e as any).Name === 'string' && !('guid' in e);
export const entryName = (e: AnyEntry) => isLegacy(e) ? e.Name : e.name;
const creationOf = (e: AnyEntry) => isLegacy(e) ? e.CreationTime : e.creation;
/** a was made after b: by creation time, then createtxg; unknown times keep map order. */
function later(a: AnyEntry, b: AnyEntry): boolean {
  const ca = creationOf(a), cb = creationOf(b);
  if (ca === undefined || cb === undefined) return false;
  if (ca !== cb) return ca > cb;
  const ta = isLegacy(a) ? undefined : a.createtxg, tb = isLegacy(b) ? undefined : b.createtxg;
  return ta !== undefined && tb !== undefined && /^\d+$/.test(ta) && /^\d+$/.test(tb) && BigInt(ta) > BigInt(tb);
}

/** Parse and check map text; `where` names the file in errors. */
export function parseMap(text: string, where = 'map.json'): MapDoc {
  let doc: any;
  try { doc = JSON.parse(text); } catch { throw new ZbError(`'${where}' is not valid JSON: fix or restore it (nothing was changed)`); }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new ZbError(`'${where}' is not a map (not a JSON object)`);
  const v = doc[VERSION_KEY]?.version;
  if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new ZbError(`'${where}': bad format version ${JSON.stringify(v)}`);
  if (v > MAP_VERSION) throw new ZbError(`'${where}' has map format ${v}, newer than this zfsbackup reads (${MAP_VERSION})`);
  return doc;
}

export function readMap(dir: string): MapDoc {
  const p = join(dir, 'map.json');
  let text: string;
  try { text = readFileSync(p, 'utf8'); } catch (e: any) {
    if (e.code === 'ENOENT') return {};
    throw new ZbError(`cannot read '${p}': ${e.message}`);
  }
  return parseMap(text, p);
}

export const datasets = (doc: MapDoc) => Object.keys(doc).filter(k => k !== VERSION_KEY).sort();

/** The stored snapshots of a dataset, oldest first. Reads the original's list form
 *  {"snapshots": [...]} and the keyed form {"snapname": {...}}. */
export function entries(doc: MapDoc, dataset: string): AnyEntry[] {
  const d = doc[dataset];
  if (!d || typeof d !== 'object') return [];
  const list: any[] = Array.isArray(d.snapshots) ? d.snapshots : Object.values(d);
  return list.filter(e => e && typeof e === 'object' && (typeof e.name === 'string' || typeof e.Name === 'string')
    && Array.isArray(e.chunks));
}

/** Find a stored snapshot by name (the newest of that name), or the newest one. */
export function findEntry(doc: MapDoc, dataset: string, snap?: string): AnyEntry {
  const list = entries(doc, dataset);
  if (!list.length) throw new ZbError(`no backup of '${dataset}' in the map` +
    (datasets(doc).length ? ` (it holds: ${datasets(doc).join(', ')})` : ''));
  if (snap === undefined) return list[list.length - 1];
  const hit = list.filter(e => entryName(e) === snap).pop();
  if (!hit) throw new ZbError(`no snapshot '${dataset}@${snap}' in the map`);
  return hit;
}

export const hasGuid = (doc: MapDoc, dataset: string, guid: string) =>
  entries(doc, dataset).some(e => !isLegacy(e) && e.guid === guid);

/** The parent entry of an incremental (by guid; by name for the original's entries). */
export function parentOf(list: AnyEntry[], e: AnyEntry): AnyEntry | undefined {
  const i = list.indexOf(e);
  if (!isLegacy(e)) return e.parent ? list.find(p => !isLegacy(p) && p.guid === e.parent!.guid) : undefined;
  return e.parent === undefined ? undefined : list.slice(0, i < 0 ? list.length : i).reverse().find(p => entryName(p) === e.parent);
}
export const isIncremental = (e: AnyEntry) => isLegacy(e) ? !!e.incremental : e.incremental;

/** What to replay to arrive at `e`: a full, then each incremental on it, in order. */
export function restoreChain(doc: MapDoc, dataset: string, e: AnyEntry): AnyEntry[] {
  const list = entries(doc, dataset), chain = [e];
  while (isIncremental(chain[0])) {
    const c = chain[0], p = parentOf(list, c);
    if (!p) {
      const pn = isLegacy(c) ? `'${c.parent}'` : `'${c.parent?.name}' (guid ${c.parent?.guid})`;
      throw new ZbError(`cannot restore '${dataset}@${entryName(e)}': '${entryName(c)}' is an incremental on ${pn}, which is not in the map`);
    }
    if (chain.includes(p)) throw new ZbError(`map of '${dataset}' has a cycle of incrementals at '${entryName(p)}'`);
    chain.unshift(p);
  }
  return chain;
}

/** Insert (keeping creation order) a new entry; writes the version key. */
export function addEntry(doc: MapDoc, dataset: string, e: Entry): void {
  doc[VERSION_KEY] = { ...(doc[VERSION_KEY] ?? {}), version: MAP_VERSION };
  const list = entries(doc, dataset);
  const extra = doc[dataset] && Array.isArray(doc[dataset].snapshots) ? doc[dataset] : {};
  let i = list.length;
  while (i > 0 && later(list[i - 1], e)) i--;
  list.splice(i, 0, e);
  doc[dataset] = { ...extra, snapshots: list };
}

/** Every chunk file name (relative to the chunks dir) our entries reference. */
export function referenced(doc: MapDoc): Set<string> {
  const s = new Set<string>();
  for (const ds of datasets(doc)) for (const e of entries(doc, ds)) {
    if (isLegacy(e)) for (const c of e.chunks) s.add(String(c).split('/').pop()!);
    else for (const c of e.chunks) s.add(c.name);
  }
  return s;
}

/** The zb stream header that re-emits a stored snapshot. */
export function metaOf(dataset: string, e: Entry): Meta {
  return {
    dataset, snapshot: e.name, guid: e.guid, createtxg: e.createtxg, creation: e.creation,
    base: e.parent, ...(e.intermediates ? { intermediates: true } : {}), recursive: e.recursive,
    ...(e.raw ? { raw: true } : {}), size: e.size, host: e.host, time: e.time, filters: e.filters,
  };
}

/** Write map.json atomically: temp file, fsync, rename, fsync of the directory. */
export async function writeMap(dir: string, doc: MapDoc): Promise<void> {
  const tmp = join(dir, `.map.json.${process.pid}.${randomBytes(4).toString('hex')}`);
  const fd = openSync(tmp, 'wx', 0o644);
  try {
    await writeFd(fd, [Buffer.from(JSON.stringify(doc, null, 2) + '\n')]);
    await fsync(fd);
    closeSync(fd);
    renameSync(tmp, join(dir, 'map.json'));
  } catch (e: any) {
    try { closeSync(fd); } catch { /* closed */ }
    try { unlinkSync(tmp); } catch { /* gone */ }
    throw e instanceof ZbError ? e : new ZbError(`cannot write the map in '${dir}': ${e.message}`);
  }
  try { syncDir(dir); } catch (e: any) { throw new CommittedError(`map written, but syncing '${dir}' failed: ${e.message}`); }
}
/** The new map is in place (renamed) but may not be durable: what it references must stay. */
export class CommittedError extends ZbError {}

export function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

// ---- the lock: DIR/map.json.lock, created with O_EXCL, holding pid, host, time, nonce.
export interface LockInfo { pid: number; host: string; time: string; nonce: string }
const pause = (ms: number) => new Promise(r => setTimeout(r, ms));

/** Whether a process of this host is still running. */
export function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e: any) { return e.code === 'EPERM'; }
}
function readLock(p: string): LockInfo | null {
  try { const l = JSON.parse(readFileSync(p, 'utf8')); return typeof l.pid === 'number' ? l : null; }
  catch { return null; }
}

/** Take the lock of `dir`, waiting up to waitSec; returns the release function.
 *  A lock left by a dead process of this host is taken over; one of another host is
 *  never guessed at: the error names it. */
export async function lock(dir: string, waitSec: number): Promise<() => void> {
  const p = join(dir, 'map.json.lock');
  const me: LockInfo = { pid: process.pid, host: hostname(), time: new Date().toISOString(), nonce: randomBytes(8).toString('hex') };
  const deadline = Date.now() + waitSec * 1000;
  for (let delay = 20; ; delay = Math.min(delay * 2, 500)) {
    let fd: number | undefined;
    try { fd = openSync(p, 'wx', 0o644); } catch (e: any) {
      if (e.code !== 'EEXIST') throw new ZbError(`cannot create the lock '${p}': ${e.message}`);
    }
    if (fd !== undefined) {
      try { await writeFd(fd, [Buffer.from(JSON.stringify(me) + '\n')]); await fsync(fd); }
      catch (e) { closeSync(fd); try { unlinkSync(p); } catch { /* gone */ } throw e; }
      closeSync(fd);
      return () => { const l = readLock(p); if (l?.nonce === me.nonce) try { unlinkSync(p); } catch { /* gone */ } };
    }
    const held = readLock(p);
    let age = 0;
    try { age = Date.now() - statSync(p).mtimeMs; } catch { continue; }
    if ((held && held.host === me.host && !alive(held.pid)) || (!held && age > 60_000)) { takeOver(p, held); continue; }
    if (Date.now() >= deadline) {
      const who = held ? `pid ${held.pid} on host '${held.host}' since ${held.time}` : 'an unreadable lock file';
      throw new ZbError(`'${p}' is held by ${who}; waited ${waitSec} s (--lock-wait). ` +
        `If no backup to this directory is running, remove that file`);
    }
    await pause(delay);
  }
}

/** Remove a stale lock without ever removing a live one: move it aside, check it is the
 *  stale one we looked at, and put it back (link, which never overwrites) if it is not. */
function takeOver(p: string, stale: LockInfo | null): void {
  const aside = `${p}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
  try { renameSync(p, aside); } catch { return; }
  const got = readLock(aside);
  const same = stale ? got?.nonce === stale.nonce : got === null;
  if (!same) { try { linkSync(aside, p); } catch { /* a third one holds it now */ } }
  try { unlinkSync(aside); } catch { /* gone */ }
}
