// The engine every method shares (the seed's ZFSBackup object model): plan the sends by
// guid against what the target holds, run each as one pipeline (zb-send, the filters, the
// method's writer), report. A method says where the copy is, what it holds, and which
// stages write to it: ZFSBackup (backup.ts) a dataset, ZFSBackupDirectory a chunk store.
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
  /** bytes a second, at most, written to the target (a zb-count stage before the sink) */
  limitRate?: number;
  /** where zfs runs for this backup's queries and checks (default: this machine) */
  host?: ZfsHost;
}

/** One zfs send the backup performs: full (no base) or incremental from base. */
export interface Step { snapshot: z.Snapshot; base?: z.Snapshot; intermediates?: boolean }

/** What status found: the newest snapshot the copy holds, its age, whether it restores. */
export interface StatusReport {
  dataset: string;
  /** where the copy is */
  target: string;
  /** the newest snapshot the copy holds (full name), or null when it holds none */
  newest: string | null;
  /** its creation time (seconds since the epoch) and age in seconds, when known */
  creation: number | null; age: number | null;
  /** why the copy is not good: nothing there, a broken chain, older than maxAge */
  problem?: string;
  ok: boolean;
}

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

  /** Why the copy of snapshot s would not restore (a chunk store's broken chain), if it would not. */
  protected async restoreProblem(_s: z.Snapshot): Promise<string | undefined> { return undefined; }

  /** For monitoring: the newest snapshot the copy holds, its age, and whether it restores;
   *  not ok when there is none, it would not restore, or it is older than maxAge seconds. */
  async status(o: { maxAge?: number; now?: number } = {}): Promise<StatusReport> {
    const r: StatusReport = { dataset: this.dataset, target: this.dest, newest: null, creation: null, age: null, ok: false };
    let snaps: z.Snapshot[];
    try { r.target = this.where(); snaps = await this.list(); } catch (e) { if (e instanceof ZbError) return { ...r, problem: e.message }; throw e; }
    const s = snaps.at(-1);
    if (!s) return { ...r, problem: `no snapshot of '${this.dataset}' in ${r.target}` };
    r.newest = s.name;
    if (s.creation) { r.creation = s.creation; r.age = Math.max(0, Math.round((o.now ?? Date.now() / 1000) - s.creation)); }
    r.problem = await this.restoreProblem(s);
    if (!r.problem && o.maxAge !== undefined && (r.age === null || r.age > o.maxAge))
      r.problem = r.age === null ? `its creation time is not known, so its age cannot be checked` : `it is older than the maximum age`;
    r.ok = !r.problem;
    return r;
  }

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

  protected sendStage(step: Step): Stage {
    const a: string[] = [];
    if (this.opts.recursive) a.push('-R');
    if (step.base) a.push(step.intermediates ? '-I' : '-i', step.base.name);
    return stage('zb-send', [...a, step.snapshot.name]);
  }

  /** Run one step's stages (the last one's output goes nowhere: the sink wrote it). */
  protected runStages(_step: Step, stages: Stage[]): Promise<PipelineResult> {
    return runPipeline(stages, { stdout: 'ignore', quiet: this.opts.quiet });
  }

  /** While dryRun() plans: methods check nothing that changes the target (no check clones). */
  protected planning = false;

  /** What backup() would do: each step and its pipeline; nothing runs, nothing changes (an
   *  interrupted receive that backup() would first resume is not shown). */
  async dryRun(snapname?: string, o: { forceFull?: boolean; iterate?: boolean } = {}): Promise<{ step: Step; stages: Stage[] }[]> {
    this.planning = true;
    try {
      const out: { step: Step; stages: Stage[] }[] = [];
      for (const step of await this.plan(snapname, o)) out.push({ step, stages: await this.stepStages(step, !step.base) });
      return out;
    } finally { this.planning = false; }
  }

  /** The stages of one step: zb-send, progress, the filters (with -v -C, counts around the
   *  compressor into tmp), the rate limit, the method's writer. */
  protected async stepStages(step: Step, replace: boolean, tmp?: string): Promise<Stage[]> {
    const stages = [this.sendStage(step)];
    if (this.opts.progress) stages.push(stage('zb-count', ['--progress', '-q', '--name', step.snapshot.snap]));
    for (const f of this.filterStages()) {
      if (tmp && f.name === 'zb-compress') stages.push(stage('zb-count', ['-q', '--json', join(tmp, 'before')]));
      stages.push(f);
      if (tmp && f.name === 'zb-compress') stages.push(stage('zb-count', ['-q', '--json', join(tmp, 'after')]));
    }
    if (this.opts.limitRate) stages.push(stage('zb-count', ['-q', '--limit-rate', String(this.opts.limitRate)]));
    stages.push(...await this.sinkStages(step, replace));
    return stages;
  }

  protected async runStep(step: Step, replace: boolean): Promise<void> {
    const tmp = this.opts.verbose && this.opts.compress ? privateDir('zfsbackup-') : undefined;
    try {
      const stages = await this.stepStages(step, replace, tmp);
      const r = await this.runStages(step, stages);
      if (!r.ok) this.failed(r, stages.length);
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
