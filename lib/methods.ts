// The zfsbackup methods: each names its options and builds its ZFSBackup object.
import type { Spec, Opts } from './cli.js';
import { UsageError } from './cli.js';
import { ZFSBackup, type Backup, type BackupOptions } from './backup.js';
import { directoryMethod, type RestoreOptions } from './method-directory.js';

export interface Method {
  spec: Spec;
  operations: string[];
  usage: string;
  create(dataset: string, m: Opts, o: BackupOptions): Backup;
  /** restore's options from the method's command line (methods that store chunks) */
  restoreOptions?(m: Opts, c: Opts, snapshot?: string): RestoreOptions;
}

function need(m: Opts, k: string, method: string): string {
  if (!m[k]) throw new UsageError(`the ${method} method needs --${k}`);
  return m[k];
}

export const methods: Record<string, Method> = {
  zfs: {
    spec: { string: ['dest'], alias: { D: 'dest' } },
    operations: ['backup', 'list'],
    usage: 'zfs --dest DATASET [backup|list]',
    create: (ds, m, o) => new ZFSBackup(ds, need(m, 'dest', 'zfs'), o),
  },
  directory: directoryMethod,
};
