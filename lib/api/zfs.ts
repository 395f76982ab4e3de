// The seed's pool-to-pool method (`zfs`): ZFSBackup replicates a dataset into another
// dataset on this host (or, through its host option, wherever its ZfsHost runs zfs).
import { ZbError } from '../errors.js';
import { forwardStderr, runPipeline, type Stage } from './pipeline.js';
import { Meter } from './events.js';
import { keepBookmark } from './hold.js';
import { stage } from './stages.js';
import * as z from '../zfs/commands.js';
import { needsForce, targetSnapshots } from '../zfs/target.js';
import { Backup, type Step } from './backup.js';
import type { ZfsHost } from '../zfs/host.js';

export { Backup, filterStages, type BackupOptions, type CompressOptions, type EncryptOptions, type Step } from './backup.js';

export class ZFSBackup extends Backup {
  /** Where the copy of this dataset lands: DEST stands for the source pool's root (zfs receive -d). */
  get target(): string {
    const rel = this.dataset.split('/').slice(1).join('/');
    return rel ? `${this.dest}/${rel}` : this.dest;
  }

  /** Where the target's zfs runs (this class: the source's host; ZFSBackupSSH: a remote one). */
  get targetHost(): ZfsHost { return this.host; }

  /** Snapshots the target holds (identity = guid). */
  async targetSnapshots(): Promise<z.Snapshot[]> {
    return targetSnapshots(this.target, this.targetHost);
  }

  /** The stage that receives into the target, with zb-recv's options. */
  protected recvStage(args: string[]): Stage { return stage('zb-recv', [...args, this.target]); }

  /** The stages after zb-send (and the filters) that store one step. */
  protected async sinkStages(step: Step, _full: boolean): Promise<Stage[]> {
    const src = new Set((await z.snapshots(this.host, this.dataset, { recursive: this.opts.recursive, bookmarks: this.bookmarkBases() })).map(s => s.guid));
    // the base as the target names it (a bookmark's snapshot there has the snapshot's name)
    const base = step.base && (step.base.bookmark ? (await this.targetSnapshots()).find(s => s.guid === step.base!.guid)?.snap : step.base.snap);
    // -F only where it loses nothing (target.ts), or with --force (a dry run does not check)
    const force = !this.planning && await needsForce({ target: this.target, base, recursive: this.opts.recursive,
      keep: (s) => src.has(s.guid), force: this.opts.force, host: this.targetHost });
    const args = force ? ['-F'] : [];
    // where zfs can, keep a cut receive resumable: the next run goes on from where it stopped
    if ((await this.targetHost.caps()).resume) args.push('-s');
    return [this.recvStage(args)];
  }

  protected async prepare(): Promise<void> {
    const parent = this.target.split('/').slice(0, -1).join('/');
    if (parent && !(await z.exists(this.targetHost, this.target))) await z.createParents(this.targetHost, parent);
  }

  protected where(): string { return this.target; }

  protected holdKey(): string { return `${this.targetHost.name}:${this.target}`; }

  protected bookmarkBases(): boolean { return true; }

  /** After a step: --hold's hold, and (where the source's zfs has bookmarks; not with -R, which
   *  zfs cannot send from one) a bookmark of the snapshot, the target's older one destroyed.
   *  The copy is complete either way: a bookmark zfs refuses (a permission, a name too long)
   *  is a warning, not a failed backup. */
  protected async protectBase(step: Step): Promise<void> {
    await super.protectBase(step);
    if (this.opts.recursive || !this.bookmarkBases() || !(await this.host.caps()).bookmarks) return;
    const b = await keepBookmark(this.host, step.snapshot, this.holdKey(), await this.targetSnapshots())
      .catch((e) => { if (e instanceof ZbError) return { name: '', destroyed: [], note: `no bookmark of ${step.snapshot.name} (the next base, should the snapshot go): ${e.message}` }; throw e; });
    if (b.note) { if (!this.opts.quiet) this.log(`warning: ${b.note}`); }
    else if (this.opts.verbose) this.log(`bookmarked ${step.snapshot.name} as ${b.name}${b.destroyed.length ? ` (destroyed ${b.destroyed.join(', ')})` : ''}: the next incremental's base, should the snapshot go`);
  }

  /** A receive cut earlier (zfs receive -s) is finished first, from its resume token (send -t). */
  protected async resumePartial(): Promise<void> {
    const token = await z.resumeToken(this.targetHost, this.target).catch(() => null);
    if (!token) return;
    if (!this.opts.quiet) this.log(`resuming the interrupted receive into ${this.target} (zfs send -t)`);
    // -v: counted (what the resume sent, against a whole send)
    const m = this.opts.verbose ? new Meter(1, undefined, () => {}) : undefined;
    const stages = [this.resumeSendStage(token), ...(m ? [stage('zb-count', ['-q', '--json', '-'])] : []), this.recvStage(['-s'])];
    const r = await runPipeline(stages, { stdout: 'ignore', quiet: this.opts.quiet,
      ...(m ? { onStderr: (i: number, line: string, end?: string) => { if (!m.take(i, line)) forwardStderr(i, line, end); } } : {}) });
    if (!r.ok) this.failed(r, stages.length, `resuming into ${this.target}: `);
    if (m?.sent != null) this.log(`resumed into ${this.target}: ${m.sent} bytes sent`);
  }

  protected resumeSendStage(token: string): Stage { return stage('zb-send', ['-t', token, this.dataset]); }

  /** The seed's list operation: what the target holds (a target that is not there is an error). */
  async list(): Promise<z.Snapshot[]> {
    if (!(await z.exists(this.targetHost, this.target))) throw new ZbError(`target '${this.target}' does not exist: nothing of '${this.dataset}' is backed up in '${this.dest}'`);
    return z.snapshots(this.targetHost, this.target);
  }
}
