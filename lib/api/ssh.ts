// The seed's `ssh` method: ZFSBackupSSH replicates a dataset into a dataset of a remote host
// over ssh (zb-send | [zb-compress |] zb-recv-ssh), lists it, and restores from it (the
// remote chain pulled back into a local dataset: zb-send --host | zb-recv). The planning,
// the target checks (nothing destroyed without --force) and the resume are ZFSBackup's,
// with the target's queries asked of the remote host.
import type { BackupEvent } from './events.js';
import { ZbError, UsageError } from '../errors.js';
import { sshArgv } from '../cli/ssh.js';
import { filterStages, type BackupOptions, type Step } from './backup.js';
import type { RestoreReport } from './chunks.js';
import type { Stage } from './pipeline.js';
import { stage } from './stages.js';
import { ZFSBackup } from './zfs.js';
import * as z from '../zfs/commands.js';
import { remoteDecompressor } from '../zfs/decompress.js';
import { localZfs, type ZfsHost } from '../zfs/host.js';
import { SshZfs } from '../zfs/remote.js';
import { remoteName } from '../zfs/ssh.js';
import type { SshOptions } from '../ssh/connect.js';

export type { SshOptions } from '../ssh/connect.js';

export class ZFSBackupSSH extends ZFSBackup {
  /** the remote host, its zfs reached over one ssh connection (closed after each operation) */
  readonly remote: SshZfs;
  private compressed = true;
  constructor(dataset: string, dest: string, readonly ssh: SshOptions, opts: BackupOptions = {}) {
    super(dataset, remoteName(dest, 'destination'), opts);
    this.remote = new SshZfs({ note: (l) => this.log(l), ...ssh });
    if (opts.encrypt && !opts.quiet) this.log('warning: --encrypted does nothing for the ssh method (ssh encrypts the connection; nothing is stored encrypted)');
  }

  get targetHost(): ZfsHost { return this.remote; }

  protected recvStage(args: string[]): Stage { return stage('zb-recv-ssh', [...sshArgv(this.ssh), ...args, this.target]); }

  /** -C: compressed here, decompressed on the remote host (when it has the decompressor). */
  filterStages(): Stage[] { return this.opts.compress && this.compressed ? filterStages({ compress: this.opts.compress }) : []; }

  protected async prepare(): Promise<void> {
    const c = this.opts.compress;
    if (c && !(await remoteDecompressor(this.remote, c.alg))) {
      this.compressed = false;
      if (!this.opts.quiet) this.log(`warning: '${this.remote.name}' has no ${c.alg} to decompress with: sending uncompressed`);
    }
    if (this.opts.verbose && !(await this.remote.caps()).resume)
      this.log(`note: the zfs of '${this.remote.name}' cannot resume a receive (no receive -s): a cut run sends that snapshot again`);
    await super.prepare();
  }

  async backup(snapname?: string, o: { forceFull?: boolean; iterate?: boolean } = {}): Promise<Step[]> {
    try { return await super.backup(snapname, o); } finally { this.remote.close(); }
  }

  async list(): Promise<z.Snapshot[]> {
    try { return await super.list(); } finally { this.remote.close(); }
  }

  async dryRun(snapname?: string, o: { forceFull?: boolean; iterate?: boolean } = {}): ReturnType<ZFSBackup['dryRun']> {
    try { return await super.dryRun(snapname, o); } finally { this.remote.close(); }
  }

  /** Pull the remote copy's chain (up to `snapshot`, default the newest) into the local
   *  dataset `to`: created, or continued from the newest snapshot it shares by guid; the
   *  same target checks as a backup (nothing on `to` destroyed without --force). */
  async restore(o: { to: string; snapshot?: string }): Promise<RestoreReport> {
    if (!o.to) throw new UsageError('restore needs --to POOL/DATASET');
    try {
      if (!(await z.exists(this.remote, this.target))) throw new ZbError(`'${this.target}' does not exist on '${this.remote.name}': nothing to restore`);
      const p = new Pull(this.target, o.to, this.ssh, { ...this.opts, host: this.remote, compress: undefined, encrypt: undefined, hold: false });
      // a restore tells what a chunk store's does: snapshot, progress and done for each one received
      p.on('event', (e: BackupEvent) => { if (e.event === 'snapshot' || e.event === 'progress' || e.event === 'done') this.tell(e); });
      const steps = await p.backup(o.snapshot);
      const now = await z.snapshots(localZfs(), o.to);
      return { target: o.to, restored: steps.map(s => s.snapshot.snap), snapshot: now.at(-1)?.snap ?? '' };
    } finally { this.remote.close(); }
  }
}

/** The way back: the remote copy is the source (its host the remote), `to` here the target. */
class Pull extends ZFSBackup {
  constructor(dataset: string, to: string, private readonly ssh: SshOptions, opts: BackupOptions) { super(dataset, to, opts); }
  get target(): string { return this.dest; }
  get targetHost(): ZfsHost { return localZfs(); }
  protected where(): string { return `${this.dest} (from ${this.ssh.host})`; }
  /** the remote copy is read, never written: no bookmark made there, none taken as a base */
  protected bookmarkBases(): boolean { return false; }
  protected sendStage(step: Step): Stage {
    const a = sshArgv(this.ssh);
    if (this.opts.recursive) a.push('-R');
    if (step.base) a.push(step.intermediates ? '-I' : '-i', step.base.name);
    return stage('zb-send', [...a, step.snapshot.name]);
  }
  protected resumeSendStage(token: string): Stage { return stage('zb-send', [...sshArgv(this.ssh), '-t', token, this.dataset]); }
}
