// The `directory` method: snapshots stored as chunk files with a map (zb-chunk-dir),
// incremental against the map by guid; restore replays a full and its incrementals
// through the reversed filters into zb-recv; verify re-hashes everything.
import { closeSync, openSync, readSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { UsageError, ZbError } from './cli.js';
import { Backup, filterStages, type BackupOptions, type Step } from './engine.js';
import { runPipeline, type Stage } from './pipeline.js';
import { stage } from './bin.js';
import * as z from './zfs.js';
import { entries, entryName, findEntry, isLegacy, readMap, restoreChain, type AnyEntry } from './map.js';
import { chainProblem, source, storeDir, verifyStore, type Report } from './chunkdir.js';
import { needsForce, targetSnapshots } from './target.js';
import { detectMd, type LegacyMd } from './legacy.js';
import { readPassphraseFile, readSecretFile } from './secret.js';
import { parseSeconds, parseSize } from './size.js';
import type { Method } from './methods.js';

export interface DirectoryOptions {
  /** DEST/PREFIX holds the store (default: the host name) */
  prefix?: string;
  /** largest chunk file, in bytes (default 2 GiB) */
  chunkSize?: number;
  /** seconds to wait for another writer's lock (default 60) */
  lockWait?: number;
}

export interface RestoreOptions {
  /** the dataset to receive into (created, or continued when it holds part of the chain) */
  to: string;
  /** the stored snapshot to arrive at (default: the newest) */
  snapshot?: string;
  /** for backups encrypted with a passphrase (age, or the original tool's openssl) */
  passwordFile?: string;
  /** age identity files, for backups encrypted to public keys */
  identities?: string[];
  /** the original tool's openssl key derivation, when its first chunk cannot tell */
  legacyMd?: LegacyMd;
}

export interface RestoreReport {
  target: string;
  /** the snapshots this run received, in order (empty: the target had them all) */
  restored: string[];
  /** the snapshot the target now reaches */
  snapshot: string;
}

/** What verify found: problems make the backup (partly) unrestorable; notes do not. */
export type VerifyReport = Report;

export class ZFSBackupDirectory extends Backup {
  readonly prefix: string;
  constructor(dataset: string, dest: string, opts: BackupOptions = {}, public dir: DirectoryOptions = {}) {
    super(dataset, dest, opts);
    this.prefix = dir.prefix ?? hostname();
    for (const [k, v] of [['chunk size', dir.chunkSize], ['lock wait', dir.lockWait]] as const)
      if (v !== undefined && !(Number.isSafeInteger(v) && v >= (k === 'chunk size' ? 1 : 0))) throw new UsageError(`invalid ${k} ${v}`);
  }
  /** DEST/PREFIX, where the map and chunks/ are */
  get store(): string { return join(this.dest, this.prefix); }
  protected where(): string { return this.store; }
  protected allowsUnrelatedFull(): boolean { return true; }
  protected async prepare(): Promise<void> { storeDir(this.dest, this.prefix); }
  filterStages(): Stage[] { return filterStages(this.opts); }

  /** What the map holds for this dataset that can be a base: entries with a guid whose whole
   *  chain is present (every chunk there, with its recorded size). A broken chain is said
   *  (even with -q: the store is damaged) and what the source still has is stored again. */
  async targetSnapshots(): Promise<z.Snapshot[]> {
    const doc = readMap(storeDir(this.dest, this.prefix));
    const ok: z.Snapshot[] = [];
    for (const e of entries(doc, this.dataset)) {
      if (isLegacy(e) || !e.guid) continue;
      const bad = chainProblem(this.dest, this.prefix, doc, this.dataset, e);
      if (bad) this.log(`the stored chain of ${this.dataset}@${e.name} is broken (${bad}): it cannot be a base; storing again what the source still has`);
      else ok.push(asSnapshot(this.dataset, e));
    }
    return ok;
  }

  /** The list operation: every stored snapshot, the original tool's too (no guid). */
  async list(): Promise<z.Snapshot[]> {
    const doc = readMap(storeDir(this.dest, this.prefix));
    findEntry(doc, this.dataset);   // a dataset the store does not hold is an error, not an empty list
    return entries(doc, this.dataset).map(e => asSnapshot(this.dataset, e));
  }

  protected async sinkStages(_step: Step): Promise<Stage[]> {
    const a = ['--dest', this.dest, '--prefix', this.prefix];
    if (this.dir.chunkSize !== undefined) a.push('--chunk-size', String(this.dir.chunkSize));
    if (this.dir.lockWait !== undefined) a.push('--lock-wait', String(this.dir.lockWait));
    return [stage('zb-chunk-dir', a)];
  }

  /** The stages that undo an entry's filters, last applied first. */
  private undoStages(e: AnyEntry, meta: { filters: any[] }, o: RestoreOptions): Stage[] {
    return [...meta.filters].reverse().map(f => {
      if (f.kind === 'compress') return stage('zb-compress', ['-d']);
      const key: string[] = [];
      if (o.passwordFile) key.push('--password-file', o.passwordFile);
      for (const i of o.identities ?? []) key.push('-i', i);
      if (!key.length && !process.env.ZB_PASSWORD)
        throw new ZbError(`${this.dataset}@${entryName(e)} is encrypted (${f.alg}): give --password-file${f.alg === 'age' ? ' or --identity' : ''}`);
      return stage('zb-encrypt', ['-d', ...key]);
    });
  }

  /** The EVP digest of an original-tool openssl backup, when its map does not say. */
  private legacyMd(e: AnyEntry, o: RestoreOptions): LegacyMd | undefined {
    if (o.legacyMd) return o.legacyMd;
    const { meta, chunks } = source(this.dest, this.prefix, this.dataset, e);
    const f = meta.filters.find(f => f.alg === 'openssl' && f.kdf === 'evp' && !f.md);
    if (!f || !chunks.length) return undefined;
    if (!o.passwordFile) throw new ZbError(`${this.dataset}@${entryName(e)} is encrypted with openssl: give --password-file`);
    const head = Buffer.alloc(64), fd = openSync(chunks[0].path, 'r');
    let n: number;
    try { n = readSync(fd, head, 0, 64, 0); } finally { closeSync(fd); }
    const md = detectMd(head.subarray(0, n), readPassphraseFile(o.passwordFile), String(f.cipher));
    if (!md) throw new ZbError(`${this.dataset}@${entryName(e)}: the passphrase decrypts the first chunk with neither md5 nor sha256 key derivation: wrong --password-file? (or say which with --legacy-md)`);
    return md;
  }

  /** restore --to DS [--snapshot S]: the chain from the newest full up to S, replayed in order.
   *  Everything is checked before anything is received: every chunk of the chain present with
   *  its size, the keys, and what the target holds (target.ts: nothing there is destroyed
   *  unless --force). A failure on the way says what the target was left holding. */
  async restore(o: RestoreOptions): Promise<RestoreReport> {
    const to = o.to;
    if (!to) throw new UsageError('restore needs --to POOL/DATASET');
    const doc = readMap(storeDir(this.dest, this.prefix));
    const last = findEntry(doc, this.dataset, o.snapshot);
    const chain = restoreChain(doc, this.dataset, last);
    const label = (e: AnyEntry) => `${this.dataset}@${entryName(e)}`;
    const bad = chainProblem(this.dest, this.prefix, doc, this.dataset, last);
    if (bad) throw new ZbError(`cannot restore ${label(last)}: ${bad}; nothing was received`);
    const inChain = (s: z.Snapshot) => chain.some(e => holds(s, e));
    const there = await targetSnapshots(to, this.host);
    // continue after the newest chain member the target already has
    let from = 0;
    for (let i = chain.length - 1; i >= 0; i--) if (there.some(s => holds(s, chain[i]))) { from = i + 1; break; }
    const force = !!this.opts.force;
    if (from === 0 && there.length)   // zfs receives no full stream over snapshots, even with -F
      throw new ZbError(`'${to}' exists with snapshots, none of them in the chain of ${label(last)}: restore into a new dataset (a full stream over it would need its snapshots destroyed, which zfsbackup leaves to you)`);
    if (from === chain.length) {   // nothing to receive, so nothing on the target is at stake
      if (this.opts.verbose) this.log(`'${to}' already has ${label(last)}`);
      return { target: to, restored: [], snapshot: entryName(last) };
    }
    if (from > 0 && !force) {
      const outside = there.slice(there.findIndex(s => holds(s, chain[from - 1])) + 1).filter(s => !inChain(s));
      if (outside.length)
        throw new ZbError(`'${to}' has ${outside.map(s => `'${s.snap}'`).join(', ')} after '${entryName(chain[from - 1])}', which the chain of ${label(last)} does not hold: restoring would destroy ${outside.length > 1 ? 'them' : 'it'}; restore into a new dataset, or add --force`);
    }
    // every stage of every step built (and every key read) before the first receive
    const steps = chain.map((e, i) => {
      if (i < from) return undefined;
      const md = isLegacy(e) ? this.legacyMd(e, o) : undefined;
      const { meta } = source(this.dest, this.prefix, this.dataset, e, md);
      const read = ['-d', '--dest', this.dest, '--prefix', this.prefix, ...(md ? ['--legacy-md', md] : [])];
      read.push(...(isLegacy(e) ? [`${this.dataset}@${e.Name}`] : ['--guid', e.guid, this.dataset]));
      return { e, read, undo: this.undoStages(e, meta, o) };
    });
    if (steps.some(s => s?.undo.some(u => u.name === 'zb-encrypt'))) {
      if (o.passwordFile) readPassphraseFile(o.passwordFile);
      for (const i of o.identities ?? []) readSecretFile(i, 'identity file');
    }
    const parent = to.split('/').slice(0, -1).join('/');
    if (parent.includes('/') && !(await z.exists(this.host, parent))) await z.createParents(this.host, parent);
    const done: string[] = [], names = new Set(chain.map(entryName));   // -R: children's snapshots by name
    for (const [i, s] of steps.entries()) {
      if (!s) continue;
      const prev = i > 0 ? chain[i - 1] : undefined;
      const F = await needsForce({ target: to, base: prev && entryName(prev), recursive: isLegacy(s.e) ? !!s.e.Recursive : s.e.recursive,
        keep: (t) => t.dataset === to ? inChain(t) : names.has(t.snap), force, host: this.host }).catch((e) => { throw new ZbError(`${e.message}${left(to, done)}`, e.status); });
      const stages = [stage('zb-chunk-dir', s.read), ...s.undo, stage('zb-recv', [...(F ? ['-F'] : []), to])];
      if (this.opts.verbose) this.log(`restoring ${label(s.e)} (${i === 0 ? 'full' : 'incremental'}) into ${to} [${i - from + 1}/${chain.length - from}]`);
      const r = await runPipeline(stages, { stdout: 'ignore', quiet: this.opts.quiet });
      if (!r.ok) this.failed(r, stages.length, `restore of ${label(s.e)}: `, left(to, done));
      done.push(entryName(s.e));
    }
    return { target: to, restored: done, snapshot: entryName(last) };
  }

  /** verify: every chunk re-hashed, every incremental's parent present. */
  verify(): Promise<VerifyReport> { return verifyStore(this.dest, this.prefix, this.dataset); }
}

/** A map entry as a snapshot (the original tool's have no guid: '-'). */
function asSnapshot(dataset: string, e: AnyEntry): z.Snapshot {
  return isLegacy(e)
    ? { name: `${dataset}@${e.Name}`, dataset, snap: e.Name, guid: '-', createtxg: 0n, creation: e.CreationTime ?? 0 }
    : { name: `${dataset}@${e.name}`, dataset, snap: e.name, guid: e.guid || '-',
      createtxg: BigInt(e.createtxg && /^\d+$/.test(e.createtxg) ? e.createtxg : 0), creation: e.creation ?? 0 };
}

/** Whether target snapshot s is the stored entry e (by guid; by name for the original's entries). */
const holds = (s: z.Snapshot, e: AnyEntry) => isLegacy(e) ? s.snap === e.Name : s.guid === e.guid;

/** What a restore stopped on the way left on the target, for its error message. */
function left(to: string, done: string[]): string {
  return done.length ? `; '${to}' holds what this run restored up to '${done.at(-1)}' (${done.join(', ')}): the same restore goes on from there`
    : `; nothing was received into '${to}' by this run`;
}

export const directoryMethod: Method = {
  spec: { string: ['dest', 'prefix', 'chunk-size', 'lock-wait', 'to', 'snapshot', 'legacy-md'], multi: ['identity'],
    alias: { D: 'dest', P: 'prefix', i: 'identity' } },
  operations: ['backup', 'list', 'restore', 'verify'],
  usage: 'directory --dest DIR [--prefix P] [backup|list|restore --to DS [--snapshot S]|verify]',
  create: (ds, m, o) => {
    if (!m.dest) throw new UsageError('the directory method needs --dest');
    return new ZFSBackupDirectory(ds, m.dest, o, { prefix: m.prefix,
      chunkSize: m['chunk-size'] === undefined ? undefined : parseSize(m['chunk-size'], 'chunk size'),
      lockWait: m['lock-wait'] === undefined ? undefined : parseSeconds(m['lock-wait'], '--lock-wait') });
  },
  restoreOptions: (m, c, snap) => {
    if (m['legacy-md'] !== undefined && !['md5', 'sha256'].includes(m['legacy-md'])) throw new UsageError(`--legacy-md is md5 or sha256, not '${m['legacy-md']}'`);
    if (!m.to) throw new UsageError('restore needs --to POOL/DATASET');
    return { to: m.to, snapshot: m.snapshot ?? snap, passwordFile: c['password-file'], identities: m.identity, legacyMd: m['legacy-md'] };
  },
};
