// Reading a chunk store: where an entry's chunks are, whether its chain can be restored,
// a stored snapshot streamed back out (each chunk read once, its sha256 checked as it
// passes), and verify (every chunk re-hashed, every parent there, what else lies there).
import { createHash } from 'node:crypto';
import { ZbError } from '../errors.js';
import { prog } from '../cli/command.js';
import { ZbWriter, type Meta } from '../stream/zb.js';
import { datasets, entries, entryName, findEntry, isIncremental, isLegacy, mapAbsent, metaOf, noBackup, parentOf, readMap, referenced,
  type AnyEntry, type MapDoc } from './map.js';
import { CHUNK_RE } from './map-check.js';
import { legacyFilters, legacyKeys, type LegacyMd } from './legacy.js';
import type { ChunkStore } from './store.js';

/** One chunk to read back: its key in the store, the name to show, what the map says of it. */
export interface ChunkFile { key: string; label: string; size?: number; sha256?: string }

/** The chunks of an entry (nothing opened; the original tool's paths resolved). */
export async function chunksOf(st: ChunkStore, e: AnyEntry): Promise<ChunkFile[]> {
  if (!isLegacy(e)) return e.chunks.map(c => ({ key: `chunks/${c.name}`, label: c.name, size: c.size, sha256: c.sha256 }));
  const out: ChunkFile[] = [];
  for (const c of e.chunks) {
    const keys = legacyKeys(st.prefix, c);
    let key = keys[0];
    for (const k of keys) if ((await st.stat(k)).kind !== 'missing') { key = k; break; }
    out.push({ key, label: String(c) });
  }
  return out;
}

/** Check a chunk is there with its recorded size; returns the problem, if any.
 *  `of` (e.g. tank/data@s2) is named after the chunk when given. */
export async function chunkPresent(st: ChunkStore, c: ChunkFile, of?: string): Promise<string | undefined> {
  const what = `chunk '${c.label}'${of ? ` of ${of}` : ''}`;
  const s = await st.stat(c.key);
  if (s.kind === 'missing') return `${what} is missing`;
  if (s.kind === 'other') return `${what} is not a regular file`;
  if (c.size !== undefined && s.size !== c.size) return `${what} has ${s.size} bytes, the map says ${c.size}`;
  return undefined;
}

/** What stands between the map and a restore of `e`: walks its chain from the full up to
 *  `e` and checks each chunk's presence and recorded size (no hashing; the original's
 *  entries, which record no sizes, by presence only). The first problem, or undefined. */
export async function chainProblem(st: ChunkStore, doc: MapDoc, dataset: string, e: AnyEntry): Promise<string | undefined> {
  const list = entries(doc, dataset), chain = [e];
  while (isIncremental(chain[0])) {
    const c = chain[0], p = parentOf(list, c);
    if (!p) {
      const pn = isLegacy(c) ? `'${c.parent}'` : `'${c.parent?.name}' (guid ${c.parent?.guid})`;
      return `${dataset}@${entryName(c)} is an incremental on ${pn}, which is not in the map`;
    }
    if (chain.includes(p)) return `${dataset}@${entryName(p)} is part of a cycle of incrementals`;
    chain.unshift(p);
  }
  for (const x of chain) {
    let files: ChunkFile[];
    try { files = await chunksOf(st, x); } catch (err: any) { return `${dataset}@${entryName(x)}: ${err.message}`; }
    for (const c of files) { const bad = await chunkPresent(st, c, `${dataset}@${entryName(x)}`); if (bad) return bad; }
  }
  return undefined;
}

/** The first n bytes of a key (fewer when it is shorter). */
export async function head(st: ChunkStore, key: string, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of st.read(key, { end: n })) parts.push(b);
  return Buffer.concat(parts).subarray(0, n);
}

/** Hash a chunk fully and compare with the map. */
export async function chunkIntact(st: ChunkStore, c: ChunkFile): Promise<string | undefined> {
  const bad = await chunkPresent(st, c);
  if (bad || !c.sha256) return bad;
  const h = createHash('sha256');
  let size = 0;
  for await (const b of st.read(c.key)) { h.update(b); size += b.length; }
  const sum = h.digest('hex');
  return sum === c.sha256 && size === c.size ? undefined : `chunk '${c.label}' is corrupt (sha256 ${sum}, the map says ${c.sha256})`;
}

/** Where a stored snapshot is and what header re-emits it. */
export async function source(st: ChunkStore, dataset: string, e: AnyEntry, legacyMd?: LegacyMd): Promise<{ meta: Meta; chunks: ChunkFile[] }> {
  const chunks = await chunksOf(st, e);
  if (!isLegacy(e)) return { meta: metaOf(dataset, e), chunks };
  const first = chunks.length && !(await chunkPresent(st, chunks[0])) ? await head(st, chunks[0].key, 64) : undefined;
  const filters = legacyFilters(e.filters, first);
  for (const f of filters) if (f.alg === 'openssl' && f.kdf === 'evp' && !f.md && legacyMd) f.md = legacyMd;
  return {
    meta: { dataset, snapshot: e.Name, creation: e.CreationTime, base: e.incremental ? { name: String(e.parent ?? ''), guid: '' } : null,
      recursive: !!e.Recursive, size: typeof e.SizeEstimate === 'number' ? e.SizeEstimate : null, filters },
    chunks,
  };
}

export interface EmitOptions { target: string; guid?: string; raw?: boolean; legacyMd?: LegacyMd; output?: number }

/** Write a stored snapshot to o.output (fd 1) as a zb stream (the plain payload with raw).
 *  Every chunk's presence and size is checked before the first byte; each is then read
 *  once, its sha256 computed as it passes and its last piece (1 to 2 MiB, or all of a smaller
 *  chunk) held back until the hash matches: a corrupt chunk cuts the stream before its end
 *  (which no receive commits). Pieces go out joined to PIECE, one write in flight. */
export async function emit(st: ChunkStore, o: EmitOptions): Promise<void> {
  const doc = await readMap(st);
  const at = o.target.indexOf('@');
  const ds = at < 0 ? o.target : o.target.slice(0, at), snap = at < 0 ? undefined : o.target.slice(at + 1);
  const e = o.guid ? entries(doc, ds).find(x => !isLegacy(x) && x.guid === o.guid) : findEntry(doc, ds, snap);
  if (!e) throw new ZbError(`no snapshot of '${ds}' with guid ${o.guid} in the map`);
  const { meta, chunks } = await source(st, ds, e, o.legacyMd);
  const label = `${ds}@${meta.snapshot}`;
  for (const c of chunks) { const bad = await chunkPresent(st, c); if (bad) throw new ZbError(`${label}: ${bad}`); }
  const why = await st.prepareRead?.(chunks.map(c => c.key));
  if (why) throw new ZbError(`${label}: ${why}`);
  if (isLegacy(e) && chunks.length) process.stderr.write(`${prog}: note: ${label} comes from the original tool: its chunks have no checksum, their content cannot be verified\n`);
  const w = new ZbWriter(o.output ?? 1, meta, !!o.raw);
  // a store's small pieces (a socket's 64 KiB) are copied into emit's own PIECE buffers (3 at
  // most: held back, being written, being filled; reused, not allocated per piece); a piece
  // of PIECE or more passes as it is. One write is in flight while the next piece comes in.
  const PIECE = 1 << 20, pool: Buffer[] = [], free: Buffer[] = [];
  let flight: Promise<void> = Promise.resolve(), flying: Buffer | undefined;
  const send = async (b: Buffer) => {
    await flight;
    free.push(...pool.filter(p => p.buffer === flying?.buffer));
    flying = b; (flight = w.write(b)).catch(() => {});
  };
  for (const c of chunks) {
    const h = createHash('sha256');
    let size = 0, held: Buffer | undefined, fill: Buffer | undefined, n = 0;
    for await (const b of st.read(c.key)) {
      h.update(b); size += b.length;
      if (!n && b.length >= PIECE) { if (held) await send(held); held = b; continue; }
      for (let i = 0; i < b.length;) {
        if (!fill) { fill = free.pop(); if (!fill) pool.push(fill = Buffer.allocUnsafeSlow(PIECE)); }
        const k = b.copy(fill, n, i); n += k; i += k;
        if (n < PIECE) continue;
        if (held) await send(held);
        held = fill; fill = undefined; n = 0;
      }
    }
    const tail = n ? fill!.subarray(0, n) : undefined, back = (held?.length ?? 0) + n;
    fill = undefined; n = 0;
    if (c.sha256 !== undefined) {
      const sum = h.digest('hex');
      if (size !== c.size) throw new ZbError(`${label}: chunk '${c.label}' has ${size} bytes, the map says ${c.size} (it changed while it was read); the stream stops before its end: nothing receives it`);
      if (sum !== c.sha256) throw new ZbError(`${label}: chunk '${c.label}' is corrupt (sha256 ${sum}, the map says ${c.sha256}); the stream stops before the chunk's last ${back} bytes and its end: nothing receives it`);
    }
    if (held) await send(held);
    if (tail) await send(tail);
  }
  await flight;
  await w.end();
}

export interface Report { problems: string[]; notes: string[]; snapshots: number; chunks: number; bytes: number }

/** Re-hash every chunk, check every incremental's parent is stored, list stray files. */
export async function verifyStore(st: ChunkStore, dataset?: string): Promise<Report> {
  const doc = await readMap(st);
  const rep: Report = { problems: [], notes: [], snapshots: 0, chunks: 0, bytes: 0 };
  const all = datasets(doc);
  if (dataset !== undefined && !entries(doc, dataset).length) rep.problems.push(noBackup(doc, dataset).message);
  else if (mapAbsent(doc)) rep.problems.push(`no map in '${st.where}' (there is no map.json: is the prefix right?)`);
  for (const ds of dataset === undefined ? all : all.filter(d => d === dataset)) {
    const list = entries(doc, ds);
    for (const e of list) {
      const label = `${ds}@${entryName(e)}`;
      rep.snapshots++;
      if (isIncremental(e) && !parentOf(list, e)) {
        const p = isLegacy(e) ? `'${e.parent}'` : `'${e.parent?.name}' (guid ${e.parent?.guid})`;
        rep.problems.push(`${label}: incremental on ${p}, which is not in the map: it cannot be restored`);
      }
      let chunks: ChunkFile[];
      try { chunks = await chunksOf(st, e); } catch (err: any) { rep.problems.push(`${label}: ${err.message}`); continue; }
      if (isLegacy(e) && chunks.length) rep.notes.push(`${label}: made by the original tool, no checksums: only the presence of its ${chunks.length} chunk(s) was checked`);
      for (const c of chunks) {
        rep.chunks++;
        const bad = await chunkIntact(st, c);
        if (bad) rep.problems.push(`${label}: ${bad}`); else rep.bytes += c.size ?? 0;
      }
    }
  }
  rep.notes.push(...await strays(st, referenced(doc)));
  return rep;
}

/** Notes on what chunks/ holds beside the map: runs' staging areas, and chunks no entry
 *  references (a failed run's, which the next backup removes when its run marker lists
 *  them; or a replaced entry's, or of unknown origin, which zfsbackup never deletes). */
async function strays(st: ChunkStore, refs: Set<string>): Promise<string[]> {
  const notes: string[] = [], failed = new Set<string>();
  for (const r of (await st.runs()).sort((a, b) => a.name < b.name ? -1 : 1)) {
    if (r.state === 'failed') {
      if (!(r.listed ?? []).some(n => refs.has(n))) for (const n of r.listed ?? []) failed.add(n);
      notes.push(r.listed === null ? `'${r.name}' was left by a failed backup (${r.who}), but its run marker does not read: zfsbackup leaves it alone (remove it by hand)`
        : `'${r.name}' was left by a failed backup (${r.who}, no longer running): the next backup removes it`);
    } else notes.push(r.state === 'running' ? `'${r.name}' is the staging directory of a running backup (${r.who})`
      : `'${r.name}' is a staging directory of ${r.who} (a backup running there, or a failed one: remove it by hand if none runs)`);
  }
  for (const f of (await st.list()).sort()) {
    if (!CHUNK_RE.test(f) || refs.has(f)) continue;
    notes.push(failed.has(f) ? `'chunks/${f}' was published by a failed backup and is not in the map: the next backup removes it`
      : `'chunks/${f}' is not in the map; zfsbackup does not delete it (remove it by hand if no backup is running)`);
  }
  return notes;
}
