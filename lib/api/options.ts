// What a backup takes (the options of every method) and gives (steps, status), and the
// filter stages the options make (filters.ts: the filter objects).
import { UsageError } from '../errors.js';
import { ZFSBackupFilterCompressed, ZFSBackupFilterEncrypted, type ZFSBackupFilter } from './filters.js';
import type { Stage } from './pipeline.js';
import type * as z from '../zfs/commands.js';
import type { ZfsHost } from '../zfs/host.js';

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
  /** the filters in the order they apply (instead of compress and encrypt) */
  filters?: ZFSBackupFilter[];
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

/** The filter stages: the ordered `filters` list, or else compression, then encryption. */
export function filterStages(o: BackupOptions): Stage[] {
  if (o.filters) {
    if (o.compress || o.encrypt) throw new UsageError('give the filters as a `filters` list or as compress/encrypt, not both');
    return o.filters.map(f => f.stage());
  }
  const s: Stage[] = [];
  if (o.compress) s.push(new ZFSBackupFilterCompressed(o.compress).stage());
  if (o.encrypt) s.push(new ZFSBackupFilterEncrypted(o.encrypt).stage());
  return s;
}
