// The zfsbackup methods on the command line: each names its options and operations and
// builds its object of the API (lib/api/) from them.
import type { Spec, Opts } from './command.js';
import { UsageError } from '../errors.js';
import { ZFSBackup, type Backup, type BackupOptions } from '../api/zfs.js';
import { ZFSBackupDirectory } from '../api/directory.js';
import { ZFSBackupSSH } from '../api/ssh.js';
import { SSH_SPEC, sshOptions } from './ssh.js';
import { S3_STRINGS, s3Options } from '../store/s3/options.js';
import type { RestoreOptions } from '../api/chunks.js';
import { ZFSBackupCount } from '../api/count.js';
import { parseSeconds, parseSize } from './size.js';

export interface Method {
  spec: Spec;
  operations: string[];
  usage: string;
  /** `zfsbackup METHOD --help`: the method's options and operations */
  help: string;
  create(dataset: string, args: Opts, options: BackupOptions): Backup | Promise<Backup>;
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
  operations: ['backup', 'list', 'restore', 'verify', 'status'],
  usage: 'directory --dest DIR [--prefix P] [backup|list|restore --to DS [--snapshot S]|verify|status]',
  help: `Usage: zfsbackup [COMMON-OPTION]... directory --dest DIR [OPTION]... [OPERATION]
Store snapshots as chunk files under DIR/PREFIX/chunks/ with a map,
DIR/PREFIX/map.json (zb-chunk-dir); incremental against the map by guid.

  -D, --dest DIR          the backup directory (must exist: a mount point)
  -P, --prefix P          subdirectory of DIR (default: this host's name)
      --chunk-size SIZE   largest chunk file (default 2G)
      --lock-wait SECONDS how long to wait for another writer (default 60)
      --to DS             restore: the dataset to receive into
      --snapshot S        restore: the stored snapshot to arrive at (default newest)
  -i, --identity FILE     restore: an age identity (repeatable)
      --legacy-md md5|sha256
                          restore: the original tool's openssl key digest

Operations: backup (default), list, restore --to DS, verify (re-hash every
chunk), status (OK or CRITICAL for monitoring).
Example: zfsbackup --dataset tank/data -C directory --dest /mnt/usb restore --to tank/back
`,
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
  operations: ['backup', 'list', 'restore', 'verify', 'status'],
  usage: 's3 --bucket B [--prefix P] [--server URL] [--region R] [--no-glacier] [backup|list|restore --to DS [--snapshot S]|verify|status]',
  help: `Usage: zfsbackup [COMMON-OPTION]... s3 --bucket B [OPTION]... [OPERATION]
Store snapshots as chunk objects under s3://B/PREFIX/chunks/ with a map,
PREFIX/map.json (zb-chunk-s3); incremental against the map by guid.

  -b, --bucket B          the bucket (created when missing)
  -P, --prefix P          key prefix (default: this host's name)
      --server URL        endpoint of an S3-compatible server (path-style)
      --region R          region (default AWS_REGION, else us-east-1)
      --key ID, --secret S  credentials (default: AWS_ACCESS_KEY_ID and
                          AWS_SECRET_ACCESS_KEY, the shared credentials file);
                          handed to zb-chunk-s3 in its environment
      --profile NAME      profile of the shared credentials file
      --chunk-size SIZE   largest chunk object (default 4G)
      --part-size SIZE, --max-parts N, --concurrency N, --storage-class C,
      --timeout SECONDS   passed on to zb-chunk-s3 (see zb-chunk-s3 --help)
      --no-glacier        no rule moving the chunks to GLACIER (removes ours);
                          --glacier: the default, after --glacier-days N (1)
      --lock-wait SECONDS how long to wait for another writer (default 60)
      --to DS             restore: the dataset to receive into
      --snapshot S        restore: the stored snapshot to arrive at (default newest)
      --restore-tier T, --restore-days N
                          restore: for chunks in GLACIER (Bulk, 7 days; exit 3
                          while they are not readable)
  -i, --identity FILE     restore: an age identity (repeatable)
      --legacy-md md5|sha256
                          restore: the original tool's openssl key digest

Operations: backup (default), list, restore --to DS, verify (re-hash every
chunk), status (OK or CRITICAL for monitoring).
Example: zfsbackup --dataset tank/data -C s3 --bucket backups --server http://rgw:7480
`,
  create: async (ds, args, o) => {
    if (!args.bucket) throw new UsageError('the s3 method needs --bucket');
    // loaded here: the AWS SDK takes ~0.1 s of CPU to load, which no other method should pay
    const { ZFSBackupS3 } = await import('../api/s3.js');
    return new ZFSBackupS3(ds, { ...s3Options(args, process.argv), prefix: args.prefix,
      chunkSize: args['chunk-size'] === undefined ? undefined : parseSize(args['chunk-size'], 'chunk size'),
      lockWait: args['lock-wait'] === undefined ? undefined : parseSeconds(args['lock-wait'], '--lock-wait') }, o);
  },
  restoreOptions: (args, common, snap) => directoryMethod.restoreOptions!(args, common, snap),
};

/** The seed's ZFSBackupCount: a full send through the filters, counted, stored nowhere. */
const countMethod: Method = {
  spec: {},
  operations: ['backup'],
  usage: 'counter',
  help: `Usage: zfsbackup [COMMON-OPTION]... counter
Send the snapshot's full stream (the latest, or --snapshot DS@S) through the
filters the common options choose (-C, -E, ...), store it nowhere, and print
its size in bytes and its name: what zb-send ... | wc -c says.

Operation: backup (the only one). With --json, a count event.
Example: zfsbackup --dataset tank/data -C --compress zstd counter
`,
  create: (ds, _args, o) => new ZFSBackupCount(ds, o),
};

export const methods: Record<string, Method> = {
  zfs: {
    spec: { string: ['dest'], alias: { D: 'dest' } },
    operations: ['backup', 'list', 'status'],
    usage: 'zfs --dest DATASET [backup|list|status]',
    help: `Usage: zfsbackup [COMMON-OPTION]... zfs --dest DATASET [OPERATION]
Replicate into DATASET on this host (zb-send | zb-recv). DATASET stands for the
source pool's root: --dataset tank/data zfs --dest backup/tank writes
backup/tank/data. Receives are resumable where zfs can (OpenZFS 0.7+).

  -D, --dest DATASET      the target (its missing parents are created)

Operations: backup (default), list, status (OK or CRITICAL for monitoring).
Example: zfsbackup --dataset tank/data zfs --dest backup/tank
`,
    create: (ds, args, o) => new ZFSBackup(ds, need(args, 'dest', 'zfs'), o),
  },
  directory: directoryMethod,
  ssh: {
    spec: { string: ['dest', 'to', 'snapshot', ...SSH_SPEC.string], multi: SSH_SPEC.multi, boolean: SSH_SPEC.boolean,
      alias: { D: 'dest', H: 'host', U: 'user', i: 'identity' } },
    operations: ['backup', 'list', 'status', 'restore'],
    usage: 'ssh --dest DATASET --host HOST [--user U] [--port N] [-i FILE] [backup|list|status|restore --to DS [--snapshot S]]',
    help: `Usage: zfsbackup [COMMON-OPTION]... ssh --dest DATASET --host HOST [OPTION]... [OPERATION]
Replicate into DATASET on HOST over ssh (zb-send [| zb-compress] | zb-recv-ssh);
DATASET stands for the source pool's root, as for the zfs method. HOST needs
zfs only. -C compresses here and decompresses on HOST when it has the tool.

  -D, --dest DATASET      the remote target (its missing parents are created)
  -H, --host HOST         a name, an address, or a Host of ~/.ssh/config
  -U, --user USER         log in as USER (default: the config's, else yours)
      --port N            ssh port (default: the config's, else 22)
  -i, --identity FILE     a private key to try (after the agent; repeatable)
      --accept-new-host-key  record the key of a host not yet in known_hosts;
                          a changed key is always refused
      --ssh-config FILE   instead of ~/.ssh/config
      --to DS             restore: the local dataset to receive into
      --snapshot S        restore: the remote snapshot to arrive at (default newest)

Operations: backup (default), list, status (OK or CRITICAL for monitoring),
restore --to DS (the remote chain pulled back into a local dataset).
Example: zfsbackup --dataset tank/data ssh --dest backup/tank --host nas --user zb
`,
    create: (ds, args, o) => {
      const dest = need(args, 'dest', 'ssh');
      need(args, 'host', 'ssh');
      return new ZFSBackupSSH(ds, dest, { ...sshOptions(args)!, note: undefined }, o);
    },
  },
  s3: s3Method,
  counter: countMethod,
  count: countMethod,
};
