// What a backup tells as it runs: events (Backup emits them; `zfsbackup --json` prints
// them one per line; their schema is in zfsbackup(8), JSON EVENTS) and the meter that
// reads them from the zb-count stages of a step (`zb-count --json -` writes NDJSON on its
// stderr: the pipeline hands those lines here instead of to the terminal).
import { ZbError } from '../errors.js';

export type BackupEvent =
  | { event: 'start'; dataset: string; target: string; snapshots: number; time: string }
  | { event: 'snapshot'; snapshot: string; base: string | null; index: number; total: number }
  | { event: 'progress'; snapshot: string; bytes: number; rate: number; size: number | null; percent: number | null }
  | { event: 'done'; snapshot: string; bytes: number | null; stored: number | null; seconds: number }
  | { event: 'failure'; snapshot: string | null; stage: string | null; message: string }
  | { event: 'summary'; dataset: string; target: string; snapshots: number; bytes: number; seconds: number; ok: boolean };

/** A failure of one pipeline stage (the one blamed). */
export class StageError extends ZbError {
  constructor(message: string, status: number, readonly stage: string | null) { super(message, status); }
}

/** The counts of one step: bytes sent (after zb-send) and stored (after the filters), from
 *  the zb-count stages at those indexes. */
export class Meter {
  sent: number | null = null;
  stored: number | null = null;
  constructor(private sentAt: number | undefined, private storedAt: number | undefined,
    private onProgress: (e: { bytes: number; rate: number; size: number | null; percent: number | null }) => void) {}

  /** A stage's stderr line: true when it was one of ours (and is used up here). */
  take(stage: number, line: string): boolean {
    if ((stage !== this.sentAt && stage !== this.storedAt) || !line.startsWith('{')) return false;
    let e: any;
    try { e = JSON.parse(line); } catch { return false; }
    if (e.event === 'progress' && stage === this.sentAt) this.onProgress({ bytes: e.bytes, rate: e.rate, size: e.size, percent: e.percent });
    if (e.event === 'done') { if (stage === this.sentAt) this.sent = e.bytes; else this.stored = e.bytes; }
    return true;
  }
}
