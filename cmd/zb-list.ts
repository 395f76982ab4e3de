#!/usr/bin/env node
// zb-list: the snapshots a target holds.
import { UsageError } from '../lib/errors.js';
import { run, parseArgs } from '../lib/cli/command.js';
import { poolRows, POOL_COLUMNS } from '../lib/zfs/list.js';
import { printRows } from '../lib/cli/table.js';
import { storeRows, STORE_COLUMNS } from '../lib/store/list.js';
import { DirStore } from '../lib/store/dir/dir.js';
import { S3Store } from '../lib/store/s3/s3.js';
import { S3_STRINGS, s3Options } from '../lib/store/s3/options.js';
import { localZfs } from '../lib/zfs/host.js';
import { hostname } from 'node:os';

const help = `Usage: $0 [OPTION]... DATASET
  or:  $0 --dir DEST [--prefix P] [OPTION]... [DATASET]
  or:  $0 --s3 --bucket B [--prefix P] [--server URL] [OPTION]... [DATASET]
List the snapshots (and bookmarks) of DATASET on the local pool: name, guid,
createtxg, creation time.

  -r, --recursive    include the descendants of DATASET
      --dir DEST     list the map of a zb-chunk-dir backup directory instead:
                     snapshot, guid, full or incremental (on what), bytes,
                     chunks, filters; no key needed
      --prefix P     with --dir: the subdirectory (default: this host's name);
                     with --s3: the key prefix
      --s3           list the map of a zb-chunk-s3 bucket (--bucket, --server,
                     --region, --key, --profile as for zb-chunk-s3), same columns
  -H                 no header, tab-separated, creation in seconds since the epoch
      --json         a JSON array
      --help         display this help and exit
      --version      output version information and exit

Examples:
  zb-list tank/data
  zb-list -H -r tank | cut -f1,2
`;

run(async (argv) => {
  const o = parseArgs(argv, { string: ['dir', ...S3_STRINGS], boolean: ['recursive', 'H', 'json', 's3'], alias: { r: 'recursive' } });
  if (o.s3) {
    if (o.dir !== undefined) throw new UsageError('give one of --dir and --s3');
    if (o._.length > 1) throw new UsageError('too many operands');
    const rows = await storeRows(new S3Store({ ...s3Options(o, argv), chunkSize: 1 }), { dataset: o._[0], raw: o.H || o.json });
    return printRows(rows, STORE_COLUMNS, { H: o.H, json: o.json });
  }
  if (o.dir !== undefined) {
    if (o._.length > 1) throw new UsageError('too many operands');
    const rows = await storeRows(new DirStore(o.dir, o.prefix ?? hostname()), { dataset: o._[0], raw: o.H || o.json });
    return printRows(rows, STORE_COLUMNS, { H: o.H, json: o.json });
  }
  if (o._.length !== 1) throw new UsageError(o._.length ? 'too many operands' : 'missing DATASET operand');
  printRows(await poolRows(localZfs(), o._[0], { recursive: o.recursive, raw: o.H || o.json }), POOL_COLUMNS, { H: o.H, json: o.json });
}, help);
