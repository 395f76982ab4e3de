// The methods that store chunks with a map (directory; S3 next): one class over the store
// engine (lib/store/). Backups are incremental against the map by guid; restore replays a
// full and its incrementals through the reversed filters into zb-recv; verify re-hashes
// everything. A method gives its store and the stage that writes or reads it.
import { UsageError, ZbError } from '../errors.js';
import { Backup, filterStages, type Step } from './backup.js';
import { runPipeline, type Stage } from './pipeline.js';
import { stage } from './stages.js';
import * as z from '../zfs/commands.js';
import { entries, entryName, findEntry, isLegacy, readMap, restoreChain, type AnyEntry } from '../store/map.js';
import { chainProblem, head, source, verifyStore, type Report } from '../store/read.js';
import type { ChunkStore } from '../store/store.js';
import type { ZFSBackupFilterCommand } from './filters.js';
import { needsForce, targetSnapshots } from '../zfs/target.js';
import { detectMd, type LegacyMd } from '../store/legacy.js';
import { readPassphraseFile, readSecretFile } from '../os/secret.js';

export interface RestoreOptions {
  /** the dataset to receive into (created, or continued when it holds part of the chain) */
  to: string;
  /** the stored snapshot to arrive at (default: the newest) */
  snapshot?: string;
  /** for backups encrypted with a passphrase (age, or the original tool's openssl) */
  passwordFile?: string;
  /** the passphrase itself (handed to the decrypting stage in its environment, never in argv) */
  passphrase?: string;
  /** age identity files, for backups encrypted to public keys */
  identities?: string[];
  /** the command filters the backup went through, given again with their restoreCommand */
  filters?: ZFSBackupFilterCommand[];
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

export abstract class ChunkBackup extends Backup {
  /** Where the map and chunks are: made on first use (a directory store checks DEST then). */
  abstract get store(): ChunkStore;
  /** The stage that stores one step's stream (zb-chunk-dir, zb-chunk-s3). */
  protected abstract writeStage(): Stage;
  /** The stage that emits a stored snapshot: `args` are -d and what to emit. */
  protected abstract readStage(args: string[]): Stage;

  protected where(): string { return this.store.where; }
  protected allowsUnrelatedFull(): boolean { return true; }
  protected async prepare(): Promise<void> { void this.store; }
  filterStages(): Stage[] { return filterStages(this.opts); }
  protected async sinkStages(_step: Step): Promise<Stage[]> { return [this.writeStage()]; }

  /** What the map holds for this dataset that can be a base: entries with a guid whose whole
   *  chain is present (every chunk there, with its recorded size). A broken chain is said
   *  (even with -q: the store is damaged) and what the source still has is stored again. */
  async targetSnapshots(): Promise<z.Snapshot[]> {
    const doc = await readMap(this.store);
    const ok: z.Snapshot[] = [];
    for (const e of entries(doc, this.dataset)) {
      if (isLegacy(e) || !e.guid) continue;
      const bad = await chainProblem(this.store, doc, this.dataset, e);
      if (bad) this.log(`the stored chain of ${this.dataset}@${e.name} is broken (${bad}): it cannot be a base; storing again what the source still has`);
      else ok.push(asSnapshot(this.dataset, e));
    }
    return ok;
  }

  /** The list operation: every stored snapshot, the original tool's too (no guid). */
  async list(): Promise<z.Snapshot[]> {
    const doc = await readMap(this.store);
    findEntry(doc, this.dataset);   // a dataset the store does not hold is an error, not an empty list
    return entries(doc, this.dataset).map(e => asSnapshot(this.dataset, e));
  }

  /** A stored snapshot restores when its whole chain is there (every chunk, with its size). */
  protected async restoreProblem(s: z.Snapshot): Promise<string | undefined> {
    const doc = await readMap(this.store);
    const e = entries(doc, this.dataset).filter(x => isLegacy(x) ? x.Name === s.snap : x.guid === s.guid || (!x.guid && x.name === s.snap)).pop();
    return e ? chainProblem(this.store, doc, this.dataset, e) : `'${s.name}' is no longer in the map`;
  }

  /** The stages that undo an entry's filters, last applied first. */
  private undoStages(e: AnyEntry, meta: { filters: any[] }, o: RestoreOptions): Stage[] {
    return [...meta.filters].reverse().map(f => {
      if (f.kind === 'compress') return stage('zb-compress', ['-d']);
      if (f.kind === 'command') {
        const c = o.filters?.find(x => x.name === f.alg)?.restoreStage();
        if (!c) throw new ZbError(`${this.dataset}@${entryName(e)} went through the command filter '${f.alg}': give it again, with its restoreCommand (restore({ filters: [new ZFSBackupFilterCommand(…)] }))`);
        return c;
      }
      const key: string[] = [];
      if (o.passwordFile) key.push('--password-file', o.passwordFile);
      for (const i of o.identities ?? []) key.push('-i', i);
      if (!key.length && !o.passphrase && !process.env.ZB_PASSWORD)
        throw new ZbError(`${this.dataset}@${entryName(e)} is encrypted (${f.alg}): give --password-file${f.alg === 'age' ? ' or --identity' : ''}`);
      return stage('zb-encrypt', ['-d', ...key], o.passphrase ? { ZB_PASSWORD: o.passphrase } : undefined);
    });
  }

  /** The EVP digest of an original-tool openssl backup, when its map does not say. */
  private async legacyMd(e: AnyEntry, o: RestoreOptions): Promise<LegacyMd | undefined> {
    if (o.legacyMd) return o.legacyMd;
    const { meta, chunks } = await source(this.store, this.dataset, e);
    const f = meta.filters.find(f => f.alg === 'openssl' && f.kdf === 'evp' && !f.md);
    if (!f || !chunks.length) return undefined;
    if (!o.passwordFile && !o.passphrase) throw new ZbError(`${this.dataset}@${entryName(e)} is encrypted with openssl: give --password-file`);
    const pass = o.passphrase !== undefined ? Buffer.from(o.passphrase) : readPassphraseFile(o.passwordFile!);
    const md = detectMd(await head(this.store, chunks[0].key, 64), pass, String(f.cipher));
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
    const doc = await readMap(this.store);
    const last = findEntry(doc, this.dataset, o.snapshot);
    const chain = restoreChain(doc, this.dataset, last);
    const label = (e: AnyEntry) => `${this.dataset}@${entryName(e)}`;
    const bad = await chainProblem(this.store, doc, this.dataset, last);
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
    const steps: ({ e: AnyEntry; read: Stage; undo: Stage[] } | undefined)[] = [];
    const keys: string[] = [];   // every chunk of the steps: an archive tier is asked for all at once
    for (const [i, e] of chain.entries()) {
      if (i < from) { steps.push(undefined); continue; }
      const md = isLegacy(e) ? await this.legacyMd(e, o) : undefined;
      const { meta, chunks } = await source(this.store, this.dataset, e, md);
      keys.push(...chunks.map(c => c.key));
      const read = ['-d', ...(md ? ['--legacy-md', md] : []), ...(isLegacy(e) ? [`${this.dataset}@${e.Name}`] : ['--guid', e.guid, this.dataset])];
      steps.push({ e, read: this.readStage(read), undo: this.undoStages(e, meta, o) });
    }
    const why = await this.store.prepareRead?.(keys);
    if (why) throw new ZbError(why);
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
      const name = label(s.e), t0 = Date.now(), metered = this.metered;
      this.tell({ event: 'snapshot', snapshot: name, base: i > 0 ? label(chain[i - 1]) : null, index: i - from + 1, total: chain.length - from });
      const count = this.countStage(`restore ${entryName(s.e)}`, metered);
      const stages = [s.read, ...s.undo, ...(count ? [count] : []), stage('zb-recv', [...(F ? ['-F'] : []), to])];
      if (this.opts.verbose) this.log(`restoring ${name} (${i === 0 ? 'full' : 'incremental'}) into ${to} [${i - from + 1}/${chain.length - from}]`);
      const m = this.meter = metered ? this.newMeter(name, count ? 1 + s.undo.length : undefined) : undefined;
      try {
        const r = await runPipeline(stages, { stdout: 'ignore', ...this.stderrOptions() });
        if (!r.ok) this.failed(r, stages.length, `restore of ${name}: `, left(to, done));
      } finally { this.meter = undefined; }
      this.tell({ event: 'done', snapshot: name, bytes: m?.sent ?? null, stored: null, seconds: (Date.now() - t0) / 1000 });
      done.push(entryName(s.e));
    }
    return { target: to, restored: done, snapshot: entryName(last) };
  }

  /** verify: every chunk re-hashed, every incremental's parent present. */
  verify(): Promise<VerifyReport> { return verifyStore(this.store, this.dataset); }
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
