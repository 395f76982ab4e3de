// The `directory` method: snapshots stored as chunk files with a map (zb-chunk-dir),
// incremental against the map by guid; restore replays a full and its incrementals
// through the reversed filters into zb-recv; verify re-hashes everything.
import { closeSync, openSync, readSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { UsageError, ZbError, type Opts } from './cli.js';
import { ZFSBackup, filterStages, type BackupOptions, type Step } from './backup.js';
import { runPipeline, describeFailure, type Stage } from './pipeline.js';
import { stage } from './bin.js';
import * as z from './zfs.js';
import { entries, entryName, findEntry, isLegacy, readMap, restoreChain, type AnyEntry } from './map.js';
import { source, storeDir, verifyStore } from './chunkdir.js';
import { detectMd, type LegacyMd } from './legacy.js';
import { readPassphraseFile } from './secret.js';
import { parseSize } from './size.js';
import type { Method } from './methods.js';

export interface DirectoryOptions { prefix?: string; chunkSize?: string; lockWait?: string }

export class ZFSBackupDirectory extends ZFSBackup {
  readonly prefix: string;
  constructor(dataset: string, dest: string, opts: BackupOptions = {}, public dir: DirectoryOptions = {}) {
    super(dataset, dest, opts);
    this.prefix = dir.prefix ?? hostname();
    if (dir.chunkSize !== undefined) parseSize(dir.chunkSize, 'chunk size');
  }
  get base(): string { return join(this.dest, this.prefix); }
  protected where(): string { return this.base; }
  protected allowsUnrelatedFull(): boolean { return true; }
  protected async prepare(): Promise<void> { storeDir(this.dest, this.prefix); }
  filterStages(): Stage[] { return filterStages(this.opts); }

  /** What the map holds for this dataset, as snapshots (only entries with a guid can be a base). */
  async targetSnapshots(): Promise<z.Snapshot[]> {
    storeDir(this.dest, this.prefix);
    return (await this.list()).filter(s => s.guid !== '-');
  }

  /** The list operation: every stored snapshot, the original tool's too (no guid). */
  async list(): Promise<z.Snapshot[]> {
    storeDir(this.dest, this.prefix);
    return entries(readMap(this.base), this.dataset).map(e => isLegacy(e)
      ? { name: `${this.dataset}@${e.Name}`, dataset: this.dataset, snap: e.Name, guid: '-', createtxg: 0n, creation: e.CreationTime ?? 0 }
      : { name: `${this.dataset}@${e.name}`, dataset: this.dataset, snap: e.name, guid: e.guid || '-',
        createtxg: BigInt(e.createtxg && /^\d+$/.test(e.createtxg) ? e.createtxg : 0), creation: e.creation ?? 0 });
  }

  protected async sinkStages(_step: Step): Promise<Stage[]> {
    const a = ['--dest', this.dest, '--prefix', this.prefix];
    if (this.dir.chunkSize) a.push('--chunk-size', this.dir.chunkSize);
    if (this.dir.lockWait) a.push('--lock-wait', this.dir.lockWait);
    return [stage('zb-chunk-dir', a)];
  }

  /** The stages that undo an entry's filters, last applied first. */
  private undoStages(e: AnyEntry, meta: { filters: any[] }, m: Opts, c: Opts): Stage[] {
    return [...meta.filters].reverse().map(f => {
      if (f.kind === 'compress') return stage('zb-compress', ['-d']);
      const key: string[] = [];
      if (c['password-file']) key.push('--password-file', c['password-file']);
      for (const i of m.identity ?? []) key.push('-i', i);
      if (!key.length && !process.env.ZB_PASSWORD)
        throw new ZbError(`${this.dataset}@${entryName(e)} is encrypted (${f.alg}): give --password-file${f.alg === 'age' ? ' or --identity' : ''}`);
      return stage('zb-encrypt', ['-d', ...key]);
    });
  }

  /** The EVP digest of an original-tool openssl backup, when its map does not say. */
  private legacyMd(e: AnyEntry, m: Opts, c: Opts): LegacyMd | undefined {
    if (m['legacy-md']) return m['legacy-md'];
    const { meta, chunks } = source(this.dest, this.prefix, this.dataset, e);
    const f = meta.filters.find(f => f.alg === 'openssl' && f.kdf === 'evp' && !f.md);
    if (!f || !chunks.length) return undefined;
    if (!c['password-file']) throw new ZbError(`${this.dataset}@${entryName(e)} is encrypted with openssl: give --password-file`);
    const head = Buffer.alloc(64), fd = openSync(chunks[0].path, 'r');
    let n: number;
    try { n = readSync(fd, head, 0, 64, 0); } finally { closeSync(fd); }
    const md = detectMd(head.subarray(0, n), readPassphraseFile(c['password-file']), String(f.cipher));
    if (!md) throw new ZbError(`${this.dataset}@${entryName(e)}: the passphrase decrypts the first chunk with neither md5 nor sha256 key derivation: wrong --password-file? (or say which with --legacy-md)`);
    return md;
  }

  /** restore --to DS [--snapshot S]: the chain from the newest full up to S, replayed in order. */
  async restore(m: Opts, c: Opts): Promise<number> {
    const to: string | undefined = m.to;
    if (!to) throw new UsageError('restore needs --to POOL/DATASET');
    storeDir(this.dest, this.prefix);
    const doc = readMap(this.base);
    const snap = m.snapshot ?? (String(c.dataset ?? c.snapshot ?? c.pool ?? '').split('@')[1] || undefined);
    const chain = restoreChain(doc, this.dataset, findEntry(doc, this.dataset, snap));
    const there = (await z.exists(to)) ? await z.snapshots(to) : [];
    // continue after the newest chain member the target already has (guid; name for the original's entries)
    let from = 0;
    for (let i = chain.length - 1; i >= 0; i--) {
      const e = chain[i];
      if (there.some(s => isLegacy(e) ? s.snap === e.Name : s.guid === e.guid)) { from = i + 1; break; }
    }
    if (from === 0 && there.length) throw new ZbError(`'${to}' exists with snapshots, none of them in the chain to restore: restore into a new dataset`);
    if (from === chain.length) { if (this.opts.verbose) this.log(`'${to}' already has ${this.dataset}@${entryName(chain.at(-1)!)}`); return 0; }
    const parent = to.split('/').slice(0, -1).join('/');
    if (parent.includes('/') && !(await z.exists(parent))) await z.createParents(parent);
    for (const [i, e] of chain.entries()) {
      if (i < from) continue;
      const md = isLegacy(e) ? this.legacyMd(e, m, c) : undefined;
      const { meta } = source(this.dest, this.prefix, this.dataset, e, md);
      const read = ['-d', '--dest', this.dest, '--prefix', this.prefix, ...(md ? ['--legacy-md', md] : [])];
      read.push(...(isLegacy(e) ? [`${this.dataset}@${e.Name}`] : ['--guid', e.guid, this.dataset]));
      // -F as the original's zfs receive -F: an incremental first rolls the target back to its
      // latest snapshot (a mounted copy changes by merely being read); a full one needs it
      // only for an existing dataset without snapshots (refused above when it has some)
      const force = i > 0 || (await z.exists(to));
      const stages = [stage('zb-chunk-dir', read), ...this.undoStages(e, meta, m, c), stage('zb-recv', [...(force ? ['-F'] : []), to])];
      if (this.opts.verbose) this.log(`restoring ${this.dataset}@${entryName(e)} (${i === 0 ? 'full' : 'incremental'}) into ${to} [${i - from + 1}/${chain.length - from}]`);
      const r = await runPipeline(stages, { stdout: 'ignore' });
      if (!r.ok) throw new ZbError(`restore of ${this.dataset}@${entryName(e)}: ${describeFailure(r, stages.length)}`, r.status);
    }
    return 0;
  }

  /** verify: every chunk re-hashed, every incremental's parent present. */
  async verify(): Promise<number> {
    const r = await verifyStore(this.dest, this.prefix, this.dataset);
    for (const n of r.notes) process.stderr.write(`zfsbackup: note: ${n}\n`);
    for (const p of r.problems) process.stdout.write(`${p}\n`);
    if (r.problems.length) throw new ZbError(`${r.problems.length} problem(s) in the backup of '${this.dataset}' in '${this.base}'`);
    process.stdout.write(`verified ${r.snapshots} snapshot(s), ${r.chunks} chunk(s), ${r.bytes} bytes of '${this.dataset}': no problems\n`);
    return 0;
  }
}

export const directoryMethod: Method = {
  spec: { string: ['dest', 'prefix', 'chunk-size', 'lock-wait', 'to', 'snapshot', 'legacy-md'], multi: ['identity'],
    alias: { D: 'dest', P: 'prefix', i: 'identity' } },
  operations: ['backup', 'list', 'restore', 'verify'],
  usage: 'directory --dest DIR [--prefix P] [backup|list|restore --to DS [--snapshot S]|verify]',
  create: (ds, m, o) => {
    if (!m.dest) throw new UsageError('the directory method needs --dest');
    if (m['legacy-md'] !== undefined && !['md5', 'sha256'].includes(m['legacy-md'])) throw new UsageError(`--legacy-md is md5 or sha256, not '${m['legacy-md']}'`);
    return new ZFSBackupDirectory(ds, m.dest, o, { prefix: m.prefix, chunkSize: m['chunk-size'], lockWait: m['lock-wait'] });
  },
};
