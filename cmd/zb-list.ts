#!/usr/bin/env node
// zb-list: the snapshots a target holds.
import { UsageError } from '../lib/errors.js';
import { run, parseArgs } from '../lib/cli/command.js';
import { poolRows, POOL_COLUMNS } from '../lib/zfs/list.js';
import { printRows } from '../lib/cli/table.js';
import { storeRows, STORE_COLUMNS } from '../lib/store/list.js';
import { DirStore } from '../lib/store/dir/dir.js';
import { localZfs, type ZfsHost } from '../lib/zfs/host.js';
import { SshZfs } from '../lib/zfs/remote.js';
import { remoteName } from '../lib/zfs/ssh.js';
import { SSH_HELP, SSH_SPEC, sshOptions } from '../lib/cli/ssh.js';
import { S3_STRINGS, s3Options } from '../lib/store/s3/options.js';
import { hostname } from 'node:os';

const help = `Usage: $0 [OPTION]... DATASET
  or:  $0 --host HOST [--user USER] [--port N] [OPTION]... DATASET
  or:  $0 --dir DEST [--prefix P] [OPTION]... [DATASET]
  or:  $0 --s3 --bucket B [--prefix P] [--server URL] [OPTION]... [DATASET]
List the snapshots (and bookmarks) of DATASET on the local pool, or on HOST's
pool over ssh: name, guid, createtxg, creation time.

  -r, --recursive    include the descendants of DATASET
      --dir DEST     list the map of a zb-chunk-dir backup directory instead:
                     snapshot, guid, full or incremental (on what), bytes,
                     chunks, filters; no key needed
      --prefix P     with --dir: the subdirectory (default: this host's name);
                     with --s3: the key prefix
      --s3           list the map of a zb-chunk-s3 bucket (--bucket, --server,
                     --region, --key, --profile as for zb-chunk-s3), same columns
${SSH_HELP}  -H                 no header, tab-separated, creation in seconds since the epoch
      --json         a JSON array
      --help         display this help and exit
      --version      output version information and exit

Examples:
  zb-list tank/data
  zb-list -H -r tank | cut -f1,2
  zb-list --host backup.example.org --user zb backup/tank/data
`;

run(async (argv) => {
  const o = parseArgs(argv, { string: ['dir', ...new Set([...S3_STRINGS, ...SSH_SPEC.string])], multi: SSH_SPEC.multi,
    boolean: ['recursive', 'H', 'json', 's3', ...SSH_SPEC.boolean], alias: { r: 'recursive', i: 'identity' } });
  const ssh = sshOptions(o);
  if (ssh && (o.dir !== undefined || o.s3)) throw new UsageError(`${o.s3 ? '--s3' : '--dir'} and --host exclude each other`);
  if (o.s3) {
    if (o.dir !== undefined) throw new UsageError('give one of --dir and --s3');
    if (o._.length > 1) throw new UsageError('too many operands');
    const { S3Store } = await import('../lib/store/s3/s3.js');   // the AWS SDK only when asked for
    const rows = await storeRows(new S3Store({ ...s3Options(o, argv), chunkSize: 1 }), { dataset: o._[0], raw: o.H || o.json });
    return printRows(rows, STORE_COLUMNS, { H: o.H, json: o.json });
  }
  if (o.dir !== undefined) {
    if (o._.length > 1) throw new UsageError('too many operands');
    const rows = await storeRows(new DirStore(o.dir, o.prefix ?? hostname()), { dataset: o._[0], raw: o.H || o.json });
    return printRows(rows, STORE_COLUMNS, { H: o.H, json: o.json });
  }
  if (o._.length !== 1) throw new UsageError(o._.length ? 'too many operands' : 'missing DATASET operand');
  const host: ZfsHost = ssh ? new SshZfs(ssh) : localZfs();
  try {
    const rows = await poolRows(host, ssh ? remoteName(o._[0]) : o._[0], { recursive: o.recursive, raw: o.H || o.json });
    printRows(rows, POOL_COLUMNS, { H: o.H, json: o.json });
  } finally { host.close?.(); }
}, help);
