// The zfsbackup methods on the command line: each names its options and operations and
// builds its object of the API (lib/api/) from them.
import type { Spec, Opts } from './command.js';
import { UsageError } from '../errors.js';
import { ZFSBackup, type Backup, type BackupOptions } from '../api/zfs.js';
import { ZFSBackupDirectory } from '../api/directory.js';
import { ZFSBackupS3 } from '../api/s3.js';
import { S3_STRINGS, s3Options } from '../store/s3/options.js';
import type { RestoreOptions } from '../api/chunks.js';
import { parseSeconds, parseSize } from './size.js';

export interface Method {
  spec: Spec;
  operations: string[];
  usage: string;
  create(dataset: string, args: Opts, options: BackupOptions): Backup;
  /** restore's options from the method's command line (methods that store chunks) */
  restoreOptions?(args: Opts, common: Opts, snapshot?: string): RestoreOptions;
}

function need(args: Opts, k: string, method: string): string {
  if (!args[k]) throw new UsageError(`the ${method} method needs --${k}`);
  return args[k];
}

const directoryMethod: Method = {
  spec: { string: ['dest', 'prefix', 'chunk-size', 'lock-wait', 'to', 'snapshot', 'legacy-md'], multi: ['identity'],
    alias: { D: 'dest', P: 'prefix', i: 'identity' } },
  operations: ['backup', 'list', 'restore', 'verify'],
  usage: 'directory --dest DIR [--prefix P] [backup|list|restore --to DS [--snapshot S]|verify]',
  create: (ds, args, o) => {
    if (!args.dest) throw new UsageError('the directory method needs --dest');
    return new ZFSBackupDirectory(ds, args.dest, o, { prefix: args.prefix,
      chunkSize: args['chunk-size'] === undefined ? undefined : parseSize(args['chunk-size'], 'chunk size'),
      lockWait: args['lock-wait'] === undefined ? undefined : parseSeconds(args['lock-wait'], '--lock-wait') });
  },
  restoreOptions: (args, common, snap) => {
    if (args['legacy-md'] !== undefined && !['md5', 'sha256'].includes(args['legacy-md'])) throw new UsageError(`--legacy-md is md5 or sha256, not '${args['legacy-md']}'`);
    if (!args.to) throw new UsageError('restore needs --to POOL/DATASET');
    return { to: args.to, snapshot: args.snapshot ?? snap, passwordFile: common['password-file'], identities: args.identity, legacyMd: args['legacy-md'] };
  },
};

const s3Method: Method = {
  spec: { string: [...S3_STRINGS, 'chunk-size', 'lock-wait', 'to', 'snapshot', 'legacy-md'], boolean: ['glacier'], multi: ['identity'],
    alias: { b: 'bucket', P: 'prefix', i: 'identity' } },
  operations: ['backup', 'list', 'restore', 'verify'],
  usage: 's3 --bucket B [--prefix P] [--server URL] [--region R] [--no-glacier] [backup|list|restore --to DS [--snapshot S]|verify]',
  create: (ds, args, o) => {
    if (!args.bucket) throw new UsageError('the s3 method needs --bucket');
    return new ZFSBackupS3(ds, { ...s3Options(args, process.argv), prefix: args.prefix,
      chunkSize: args['chunk-size'] === undefined ? undefined : parseSize(args['chunk-size'], 'chunk size'),
      lockWait: args['lock-wait'] === undefined ? undefined : parseSeconds(args['lock-wait'], '--lock-wait') }, o);
  },
  restoreOptions: (args, common, snap) => directoryMethod.restoreOptions!(args, common, snap),
};

export const methods: Record<string, Method> = {
  zfs: {
    spec: { string: ['dest'], alias: { D: 'dest' } },
    operations: ['backup', 'list'],
    usage: 'zfs --dest DATASET [backup|list]',
    create: (ds, args, o) => new ZFSBackup(ds, need(args, 'dest', 'zfs'), o),
  },
  directory: directoryMethod,
  s3: s3Method,
};
