// The engine every method shares (the seed's ZFSBackup object model): plan the sends by
// guid against what the target holds, run each as one pipeline (zb-send, the filters, the
// method's writer), report. A method says where the copy is, what it holds, and which
// stages write to it: ZFSBackup (zfs.ts) a dataset, ChunkBackup (chunks.ts) a chunk store.
// It tells what it does as events (events.ts). A little over 200 lines: the engine is one piece.
import { EventEmitter } from 'node:events';
import { ZbError } from '../errors.js';
import { runPipeline, describeFailure, describeSecondary, forwardStderr, type PipelineResult, type RunOptions, type Stage } from './pipeline.js';
import { stage } from './stages.js';
import * as z from '../zfs/commands.js';
import { localZfs, type ZfsHost } from '../zfs/host.js';
import { Meter, StageError, type BackupEvent } from './events.js';
import { holdBase } from './hold.js';
import { planSteps } from './plan.js';
import type { BackupOptions, StatusReport, Step } from './options.js';

export { filterStages, type BackupOptions, type CompressOptions, type EncryptOptions, type StatusReport, type Step } from './options.js';
export type { BackupEvent } from './events.js';

/** What to send: the snapshot (default the latest), a full stream even where an incremental
 *  is possible, one send per snapshot (default) or one `zfs send -I`. */
export interface SendChoice { snapname?: string; forceFull?: boolean; iterate?: boolean }

/** Events: 'start', 'snapshot', 'progress', 'done', 'failure', 'summary' (each a BackupEvent
 *  of that name), and 'event' for every one of them. */
export abstract class Backup extends EventEmitter {
  readonly dataset: string;
  readonly host: ZfsHost;
  constructor(dataset: string, public dest: string, public opts: BackupOptions = {}) {
    super();
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

  /** Plan the sends: from the newest common snapshot (by guid) to `snapname` (default latest);
   *  where the method takes bookmarks, from a newer bookmark of the source whose guid the
   *  target holds (its snapshot pruned): plan.ts. */
  async plan(snapname?: string, o: { forceFull?: boolean; iterate?: boolean } = {}): Promise<Step[]> {
    const all = await z.snapshots(this.host, this.dataset, { bookmarks: this.bookmarkBases() });
    if (!all.some(s => !s.bookmark)) throw new ZbError(`dataset '${this.dataset}' has no snapshots: make one first (zfs snapshot ${this.dataset}@NAME)`);
    const name = snapname?.replace(/^.*@/, '');
    if (name !== undefined && !all.some(s => !s.bookmark && s.snap === name)) throw new ZbError(`snapshot '${this.dataset}@${name}' does not exist`);
    return planSteps({ all, upto: name, have: await this.targetSnapshots(), where: this.where(), dataset: this.dataset,
      mine: !this.allowsUnrelatedFull(), recursive: this.opts.recursive, force: this.opts.force, ...o });
  }

  /** Whether bookmarks of the source are incremental bases (and made after each send): the zfs and ssh methods. */
  protected bookmarkBases(): boolean { return false; }

  /** Whether a full stream may be stored beside unrelated snapshots (a directory may; a dataset may not). */
  protected allowsUnrelatedFull(): boolean { return false; }

  /** The seed's backup(snapname=None, force_full=False): `backup('mon', { forceFull: true })`
   *  or `backup({ snapname: 'mon', forceFull: true })`. Returns the steps it sent. */
  async backup(snapname?: string | SendChoice, o: SendChoice = {}): Promise<Step[]> {
    if (typeof snapname === 'object') { o = snapname; snapname = snapname.snapname; }
    this.warned.clear();
    const t0 = Date.now();
    let current: string | null = null, bytes = 0, sent = 0, target = this.dest;
    const summary = (ok: boolean) => this.tell({ event: 'summary', dataset: this.dataset, target, snapshots: sent, bytes, seconds: (Date.now() - t0) / 1000, ok });
    try {
      await this.resumePartial();
      const steps = await this.plan(snapname, o);
      target = this.where();
      this.tell({ event: 'start', dataset: this.dataset, target, snapshots: steps.length, time: new Date(t0).toISOString() });
      if (!steps.length) { if (this.opts.verbose) this.log(`${this.where()}: up to date`); summary(true); return steps; }
      await this.prepare();
      for (const [i, step] of steps.entries()) {
        current = step.snapshot.name;
        this.tell({ event: 'snapshot', snapshot: current, base: step.base?.name ?? null, index: i + 1, total: steps.length });
        if (this.opts.verbose) this.log(`sending ${step.snapshot.name}${step.base ? ` (incremental from ${step.base.bookmark ? `bookmark #${step.base.snap}` : step.base.snap}${step.intermediates ? ', with intermediates' : ''})` : ' (full)'} to ${this.where()} [${i + 1}/${steps.length}]`);
        bytes += await this.runStep(step, !step.base);
        sent++;
      }
      summary(true);
      return steps;
    } catch (e: any) {
      this.tell({ event: 'failure', snapshot: current, stage: e instanceof StageError ? e.stage : null, message: e?.message ?? String(e) });
      summary(false);
      throw e;
    }
  }

  /** Emit an event under its name and as 'event'. */
  protected tell(e: BackupEvent): void { this.emit(e.event, e); this.emit('event', e); }
  /** Whether anyone takes the counts of a step (events, or -v's line). */
  protected get metered(): boolean {
    return !!this.opts.verbose || ['progress', 'done', 'event'].some(n => this.listenerCount(n) > 0);
  }

  /** A failed pipeline: one line blaming its stage (with -v, a line for each other stage that
   *  failed or was stopped first). */
  protected failed(r: PipelineResult, total: number, before = '', after = ''): never {
    if (this.opts.verbose) for (const l of describeSecondary(r, total)) this.log(l);
    throw new StageError(`${before}${describeFailure(r, total)}${after}`, r.status, r.blame?.result.name ?? null);
  }

  /** What names this backup's target in its --hold tag (hold.ts). */
  protected holdKey(): string { return this.where(); }

  /** After a step: keep its snapshot, the next incremental's base (--hold: a zfs hold, hold.ts). */
  protected async protectBase(step: Step): Promise<void> {
    if (!this.opts.hold) return;
    const tag = await holdBase(this.host, this.dataset, step.snapshot.name, this.holdKey(), this.opts.recursive);
    if (this.opts.verbose) this.log(`held ${step.snapshot.name} (zfs hold ${tag}) as the next incremental's base`);
  }

  protected sendStage(step: Step): Stage {
    const a: string[] = [];
    if (this.opts.recursive) a.push('-R');
    if (step.base) a.push(step.intermediates ? '-I' : '-i', step.base.name);
    return stage('zb-send', [...a, step.snapshot.name]);
  }

  /** The stderr of a step's stages: the meter's lines used up, the rest to the terminal. */
  protected stderrOptions(): RunOptions {
    const m = this.meter;
    // a stage's warning is said once a run, not once a snapshot
    return { quiet: this.opts.quiet, onStderr: (i, line, end) => {
      if (m?.take(i, line) || this.opts.quiet) return;
      if (/^zb-[a-z0-9-]+: warning: /.test(line)) { if (this.warned.has(line)) return; this.warned.add(line); }
      forwardStderr(i, line, end);
    } };
  }
  private readonly warned = new Set<string>();
  protected meter?: Meter;

  /** The zb-count stage that shows progress (--progress) and counts for the events, or none. */
  protected countStage(label: string, metered: boolean): Stage | undefined {
    if (!this.opts.progress && !metered) return undefined;
    return stage('zb-count', ['-q', '--name', label, ...(this.opts.progress ? ['--progress'] : []), ...(metered ? ['--json', '-'] : [])]);
  }

  /** A meter of snapshot `name` whose counts come from the zb-count stage at `at`: its
   *  progress lines become 'progress' events. */
  protected newMeter(name: string, at: number | undefined, storedAt?: number): Meter | undefined {
    return at === undefined ? undefined : new Meter(at, storedAt, (p) => this.tell({ event: 'progress', snapshot: name, ...p }));
  }

  /** Run one step's stages (the last one's output goes nowhere: the sink wrote it). */
  protected runStages(_step: Step, stages: Stage[]): Promise<PipelineResult> {
    return runPipeline(stages, { stdout: 'ignore', ...this.stderrOptions() });
  }

  /** While dryRun() plans: methods check nothing that changes the target (no check clones). */
  protected planning = false;

  /** What backup() would do: each step and its pipeline; nothing runs, nothing changes (an
   *  interrupted receive that backup() would first resume is not shown). */
  async dryRun(snapname?: string, o: { forceFull?: boolean; iterate?: boolean } = {}): Promise<{ step: Step; stages: Stage[] }[]> {
    this.planning = true;
    try {
      const out: { step: Step; stages: Stage[] }[] = [];
      for (const step of await this.plan(snapname, o)) out.push({ step, stages: (await this.stepStages(step, !step.base, false)).stages });
      return out;
    } finally { this.planning = false; }
  }

  /** The stages of one step: zb-send, a counter (progress, events), the filters and a
   *  counter after them, the rate limit, the method's writer; and where the counters are. */
  protected async stepStages(step: Step, replace: boolean, metered: boolean): Promise<{ stages: Stage[]; sentAt?: number; storedAt?: number }> {
    const stages = [this.sendStage(step)];
    let sentAt: number | undefined, storedAt: number | undefined;
    const count = this.countStage(step.snapshot.snap, metered);
    if (count) { sentAt = stages.length; stages.push(count); }
    const filters = this.filterStages();
    stages.push(...filters);
    if (metered && filters.length) { storedAt = stages.length; stages.push(stage('zb-count', ['-q', '--json', '-'])); }
    if (this.opts.limitRate) stages.push(stage('zb-count', ['-q', '--limit-rate', String(this.opts.limitRate)]));
    stages.push(...await this.sinkStages(step, replace));
    return { stages, sentAt: metered ? sentAt : undefined, storedAt };
  }

  /** Run one step; returns the bytes sent (0 when not counted). */
  protected async runStep(step: Step, replace: boolean): Promise<number> {
    const t0 = Date.now(), name = step.snapshot.name;
    const { stages, sentAt, storedAt } = await this.stepStages(step, replace, this.metered);
    const m = this.newMeter(name, sentAt, storedAt);
    this.meter = m;
    try {
      const r = await this.runStages(step, stages);
      if (!r.ok) this.failed(r, stages.length);
      await this.protectBase(step);
    } finally { this.meter = undefined; }
    const seconds = (Date.now() - t0) / 1000;
    this.tell({ event: 'done', snapshot: name, bytes: m?.sent ?? null, stored: m?.stored ?? null, seconds });
    if (this.opts.verbose && m?.sent != null) {
      const rate = seconds > 0 ? `${(m.sent / seconds / 1e6).toFixed(1)} MB/s` : '-';
      const packed = m.stored != null && this.opts.compress ? `; Compressed ${m.sent} to ${m.stored} bytes (${m.sent ? ((100 * m.stored) / m.sent).toFixed(1) : '0.0'}%)` : '';
      this.log(`${name}: ${m.sent} bytes sent in ${seconds.toFixed(1)} s (${rate})${m.stored != null ? `, ${m.stored} bytes after the filters` : ''}${packed}`);
    }
    return m?.sent ?? 0;
  }
}

