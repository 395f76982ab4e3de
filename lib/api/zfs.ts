// The seed's pool-to-pool method (`zfs`): ZFSBackup replicates a dataset into another
// dataset on this host (or, through its host option, wherever its ZfsHost runs zfs).
import { ZbError } from '../errors.js';
import { runPipeline, type Stage } from './pipeline.js';
import { stage } from './stages.js';
import * as z from '../zfs/commands.js';
import { needsForce, targetSnapshots } from '../zfs/target.js';
import { Backup, type Step } from './backup.js';

export { Backup, filterStages, type BackupOptions, type CompressOptions, type EncryptOptions, type Step } from './backup.js';

export class ZFSBackup extends Backup {
  /** Where the copy of this dataset lands: DEST stands for the source pool's root (zfs receive -d). */
  get target(): string {
    const rel = this.dataset.split('/').slice(1).join('/');
    return rel ? `${this.dest}/${rel}` : this.dest;
  }

  /** Snapshots the target holds (identity = guid). */
  async targetSnapshots(): Promise<z.Snapshot[]> {
    return targetSnapshots(this.target, this.host);
  }

  /** The stages after zb-send (and the filters) that store one step. */
  protected async sinkStages(step: Step, _full: boolean): Promise<Stage[]> {
    const src = new Set((await z.snapshots(this.host, this.dataset, { recursive: this.opts.recursive })).map(s => s.guid));
    // -F only where it loses nothing (target.ts), or with --force (a dry run does not check)
    const force = !this.planning && await needsForce({ target: this.target, base: step.base?.snap, recursive: this.opts.recursive,
      keep: (s) => src.has(s.guid), force: this.opts.force, host: this.host });
    const args = force ? ['-F'] : [];
    // where zfs can, keep a cut receive resumable: the next run goes on from where it stopped
    if ((await this.host.caps()).resume) args.push('-s');
    return [stage('zb-recv', [...args, this.target])];
  }

  protected async prepare(): Promise<void> {
    const parent = this.target.split('/').slice(0, -1).join('/');
    if (parent && !(await z.exists(this.host, this.target))) await z.createParents(this.host, parent);
  }

  protected where(): string { return this.target; }

  /** A receive cut earlier (zfs receive -s) is finished first, from its resume token (send -t). */
  protected async resumePartial(): Promise<void> {
    const token = await z.resumeToken(this.host, this.target).catch(() => null);
    if (!token) return;
    if (this.opts.verbose) this.log(`resuming the interrupted receive into ${this.target}`);
    const stages = [stage('zb-send', ['-t', token, this.dataset]), stage('zb-recv', ['-s', this.target])];
    const r = await runPipeline(stages, { stdout: 'ignore', quiet: this.opts.quiet });
    if (!r.ok) this.failed(r, stages.length, `resuming into ${this.target}: `);
  }

  /** The seed's list operation: what the target holds (a target that is not there is an error). */
  async list(): Promise<z.Snapshot[]> {
    if (!(await z.exists(this.host, this.target))) throw new ZbError(`target '${this.target}' does not exist: nothing of '${this.dataset}' is backed up in '${this.dest}'`);
    return z.snapshots(this.host, this.target);
  }
}
