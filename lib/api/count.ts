// The seed's ZFSBackupCount (the `counter` method): a full send of the snapshot through
// the chosen filters, stored nowhere; the bytes that reach the end are counted, the size
// the backup would take on the wire (the same number as `zb-send … | wc -c`).
import { closeSync } from 'node:fs';
import { ZbError } from '../errors.js';
import { readFd, BUF } from '../os/io.js';
import { pipes } from '../os/proc.js';
import { Backup, filterStages, type BackupOptions, type Step } from './backup.js';
import { runPipeline, type PipelineResult, type Stage } from './pipeline.js';
import type * as z from '../zfs/commands.js';

export interface CountReport { snapshot: string; bytes: number }

export class ZFSBackupCount extends Backup {
  /** what each step counted, in order */
  readonly counted: CountReport[] = [];
  constructor(dataset: string, opts: BackupOptions = {}) { super(dataset, '-', opts); }

  /** Always a full send: there is no target to be incremental against. */
  async targetSnapshots(): Promise<z.Snapshot[]> { return []; }
  async list(): Promise<z.Snapshot[]> { throw new ZbError('the counter method stores nothing: there is nothing to list'); }
  protected where(): string { return 'the counter'; }
  protected allowsUnrelatedFull(): boolean { return true; }
  filterStages(): Stage[] { return filterStages(this.opts); }
  protected async sinkStages(): Promise<Stage[]> { return []; }

  /** Count the snapshot's full stream (the latest, or snapname). */
  async count(snapname?: string): Promise<CountReport> {
    this.counted.length = 0;
    await this.backup(snapname, { forceFull: true });
    return this.counted[0];
  }

  protected async runStages(step: Step, stages: Stage[]): Promise<PipelineResult> {
    const [[rd, wr]] = pipes(1, false);
    let bytes = 0;
    const counting = (async () => {
      const b = Buffer.allocUnsafe(BUF);
      for (let n; (n = await readFd(rd, b)) > 0;) bytes += n;
    })();
    let r: PipelineResult;
    try { r = await runPipeline(stages, { stdout: wr, ...this.stderrOptions() }); } finally { closeSync(wr); }
    await counting.finally(() => closeSync(rd));
    if (r.ok) this.counted.push({ snapshot: step.snapshot.name, bytes });
    return r;
  }
}
