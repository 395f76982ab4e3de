// The engine every method shares (the seed's ZFSBackup object model): plan the sends by
// guid against what the target holds, run each as one pipeline (zb-send, the filters, the
// method's writer), report. A method says where the copy is, what it holds, and which
// stages write to it: ZFSBackup (backup.ts) a dataset, ZFSBackupDirectory a chunk store.
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { privateDir } from '../os/proc.js';
import { UsageError, ZbError } from '../errors.js';
import { runPipeline, describeFailure, describeSecondary, type PipelineResult, type Stage } from './pipeline.js';
import { stage } from './stages.js';
import * as z from '../zfs/commands.js';
import { localZfs, type ZfsHost } from '../zfs/host.js';

export interface CompressOptions { alg: 'gzip' | 'pigz' | 'zstd' | 'lz4' | 'xz'; level?: string }
export interface EncryptOptions {
  /** a file holding the passphrase (age scrypt, or openssl with cipher) */
  passwordFile?: string;
  /** the passphrase itself: handed to the zb-encrypt stage in its environment, never in argv */
  passphrase?: string;
  cipher?: string; recipients?: string[]; recipientsFile?: string; identity?: string;
}

export interface BackupOptions {
  recursive?: boolean;
  compress?: CompressOptions;
  encrypt?: EncryptOptions;
  /** let a receive destroy what is on the target (zfs receive -F) even where that loses data */
  force?: boolean;
  verbose?: boolean;
  progress?: boolean;
  /** nothing on stderr on success: no progress, no warnings */
  quiet?: boolean;
  log?: (line: string) => void;
  /** where zfs runs for this backup's queries and checks (default: this machine) */
  host?: ZfsHost;
  /** after each send, a zfs hold on the source snapshot the copy now ends with (the next
   *  incremental's base), released from the one before: no other tool can destroy it */
  hold?: boolean;
}

/** One zfs send the backup performs: full (no base) or incremental from base. */
export interface Step { snapshot: z.Snapshot; base?: z.Snapshot; intermediates?: boolean }

export abstract class Backup {
  readonly dataset: string;
  readonly host: ZfsHost;
  constructor(dataset: string, public dest: string, public opts: BackupOptions = {}) {
    this.dataset = dataset.replace(/@.*$/, '');
    this.host = opts.host ?? localZfs();
  }

  /** What the target holds that can be an incremental base (identity = guid). */
  abstract targetSnapshots(): Promise<z.Snapshot[]>;
  /** The seed's list operation: what the target holds (a target that is not there is an error). */
  abstract list(): Promise<z.Snapshot[]>;
  /** Where the copy goes, for messages. */
  protected abstract where(): string;
  /** The stages after zb-send and the filters that store one step. */
  protected abstract sinkStages(step: Step, full: boolean): Promise<Stage[]>;
  /** The filter stages (compression, then encryption). */
  filterStages(): Stage[] { return []; }
  /** Make the place the copy goes to, once there is something to send. */
  protected async prepare(): Promise<void> { /* nothing by default */ }
  /** Finish what an interrupted run left, before planning. */
  protected async resumePartial(): Promise<void> { /* nothing by default */ }

  protected log(s: string): void { (this.opts.log ?? ((l) => process.stderr.write(`zfsbackup: ${l}\n`)))(s); }

  /** Plan the sends: from the newest common snapshot (by guid) to `snapname` (default latest). */
  async plan(snapname?: string, o: { forceFull?: boolean; iterate?: boolean } = {}): Promise<Step[]> {
    const src = await z.snapshots(this.host, this.dataset);
    if (!src.length) throw new ZbError(`dataset '${this.dataset}' has no snapshots: make one first (zfs snapshot ${this.dataset}@NAME)`);
    const name = snapname?.replace(/^.*@/, '');
    const last = name === undefined ? src.length - 1 : src.findIndex(s => s.snap === name);
    if (last < 0) throw new ZbError(`snapshot '${this.dataset}@${name}' does not exist`);
    const upto = src.slice(0, last + 1);
    const have = await this.targetSnapshots();
    const mine = !this.allowsUnrelatedFull();   // a dataset: a full into it replaces what it holds
    if (o.forceFull) {
      // zfs receives a full stream over a dataset's snapshots with no flag (not even -F)
      if (mine && have.length)
        throw new ZbError(`target '${this.where()}' has snapshots; a full stream would need them destroyed, which zfsbackup leaves to you: choose another --dest, or destroy them (zfs destroy -r ${this.where()}) and run again`);
      return [{ snapshot: upto[last] }];
    }
    const base = z.commonBase(upto, have);
    if (!base && have.length && mine) {
      const clash = z.nameClashes(upto, have);
      throw new ZbError(clash.length
        ? `target '${this.where()}' has snapshot '${clash[0]}' with the source's name but another guid: it is not the same snapshot; choose another --dest (a full copy over it would need its snapshots destroyed, which zfsbackup leaves to you)`
        : `target '${this.where()}' has snapshots but none in common with '${this.dataset}': choose another --dest (a full copy over it would need its snapshots destroyed, which zfsbackup leaves to you)`);
    }
    if (base && mine && !this.opts.force) {
      // receive -F would destroy the target's snapshots that the source lacks (target.ts
      // checks the same before each receive; here it is said before anything is sent)
      const tb = have.findIndex(s => s.guid === base.guid);
      const newer = have.slice(tb + 1).filter(t => !src.some(s => s.guid === t.guid));
      if (newer.length)
        throw new ZbError(`target '${this.where()}' has snapshots newer than the common one '${base.snap}' that the source lacks (${newer.map(s => s.snap).join(', ')}): receiving would destroy them; destroy them yourself, choose another --dest, or add --force`);
    }
    if (base && base.guid === src[last].guid) return [];
    const startAt = base ? upto.indexOf(base) : 0;
    const steps: Step[] = base ? [] : [{ snapshot: upto[0] }];
    const after = upto.slice(startAt + 1);
    if (o.iterate === false && after.length) {
      steps.push({ snapshot: after[after.length - 1], base: upto[startAt], intermediates: after.length > 1 });
    } else {
      let prev = upto[startAt];
      for (const s of after) { steps.push({ snapshot: s, base: prev }); prev = s; }
    }
    return steps;
  }

  /** Whether a full stream may be stored beside unrelated snapshots (a directory may; a dataset may not). */
  protected allowsUnrelatedFull(): boolean { return false; }

  /** The seed's backup(snapname=None, force_full=False). Returns the steps it sent. */
  async backup(snapname?: string, o: { forceFull?: boolean; iterate?: boolean } = {}): Promise<Step[]> {
    await this.resumePartial();
    const steps = await this.plan(snapname, o);
    if (!steps.length) { if (this.opts.verbose) this.log(`${this.where()}: up to date`); return steps; }
    await this.prepare();
    for (const [i, step] of steps.entries()) {
      const full = !step.base;
      if (this.opts.verbose) this.log(`sending ${step.snapshot.name}${step.base ? ` (incremental from ${step.base.snap}${step.intermediates ? ', with intermediates' : ''})` : ' (full)'} to ${this.where()} [${i + 1}/${steps.length}]`);
      await this.runStep(step, full);
    }
    return steps;
  }


  /** A failed pipeline: one line blaming its stage (with -v, a line for each other stage that
   *  failed or was stopped first). */
  protected failed(r: PipelineResult, total: number, before = '', after = ''): never {
    if (this.opts.verbose) for (const l of describeSecondary(r, total)) this.log(l);
    throw new ZbError(`${before}${describeFailure(r, total)}${after}`, r.status);
  }

  /** What names this backup's target in its hold tag. */
  protected holdKey(): string { return this.where(); }

  /** Hold snap (the base of the next incremental) on the source; release this target's tag
   *  from every other snapshot of the dataset. */
  protected async holdBase(snap: z.Snapshot): Promise<void> {
    const tag = holdTag(this.holdKey()), r = this.opts.recursive;
    await z.hold(this.host, tag, snap.name, r);
    for (const s of await z.heldSnapshots(this.host, this.dataset)) if (s !== snap.name) await z.release(this.host, tag, s, r);
    if (this.opts.verbose) this.log(`held ${snap.name} (zfs hold ${tag}) as the next incremental's base`);
  }

  protected sendStage(step: Step): Stage {
    const a: string[] = [];
    if (this.opts.recursive) a.push('-R');
    if (step.base) a.push(step.intermediates ? '-I' : '-i', step.base.name);
    return stage('zb-send', [...a, step.snapshot.name]);
  }

  protected async runStep(step: Step, replace: boolean): Promise<void> {
    const tmp = this.opts.verbose && this.opts.compress ? privateDir('zfsbackup-') : undefined;
    try {
      const stages = [this.sendStage(step)];
      if (this.opts.progress) stages.push(stage('zb-count', ['--progress', '-q', '--name', step.snapshot.snap]));
      const filters = this.filterStages();
      for (const f of filters) {
        if (tmp && f.name === 'zb-compress') stages.push(stage('zb-count', ['-q', '--json', join(tmp, 'before')]));
        stages.push(f);
        if (tmp && f.name === 'zb-compress') stages.push(stage('zb-count', ['-q', '--json', join(tmp, 'after')]));
      }
      stages.push(...await this.sinkStages(step, replace));
      const r = await runPipeline(stages, { stdout: 'ignore', quiet: this.opts.quiet });
      if (!r.ok) this.failed(r, stages.length);
      if (this.opts.hold) await this.holdBase(step.snapshot);
      if (tmp) {
        const [a, b] = ['before', 'after'].map(f => doneBytes(join(tmp, f)));
        if (a !== undefined && b !== undefined)
          this.log(`Compressed ${a} to ${b} bytes (${a ? ((100 * b) / a).toFixed(1) : '0.0'}%)`);
      }
    } finally {
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    }
  }

}

/** The hold tag of one backup target: zfsbackup-<12 hex of sha256(key)> (a tag per target,
 *  so that two targets of one dataset keep each its own base). */
export function holdTag(key: string): string { return `zfsbackup-${createHash('sha256').update(key).digest('hex').slice(0, 12)}`; }

function doneBytes(file: string): number | undefined {
  try {
    const lines = readFileSync(file, 'utf8').trim().split('\n').map(l => JSON.parse(l));
    return lines.reverse().find(l => l.event === 'done')?.bytes;
  } catch { return undefined; }
}

/** The filter stages for compression and encryption (methods that store data). */
export function filterStages(o: BackupOptions): Stage[] {
  const s: Stage[] = [];
  if (o.compress) s.push(stage('zb-compress', [`--${o.compress.alg}`, ...(o.compress.level ? ['-l', o.compress.level] : [])]));
  const e = o.encrypt;
  if (e) {
    const a: string[] = [];
    if (e.cipher) a.push('--cipher', e.cipher);
    if (e.passwordFile) a.push('--password-file', e.passwordFile);
    for (const r of e.recipients ?? []) a.push('-r', r);
    if (e.recipientsFile) a.push('-R', e.recipientsFile);
    if (e.passphrase === '') throw new UsageError('the passphrase is empty');
    s.push(stage('zb-encrypt', a, e.passphrase !== undefined ? { ZB_PASSWORD: e.passphrase } : undefined));
  }
  return s;
}
