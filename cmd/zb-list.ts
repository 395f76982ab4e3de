#!/usr/bin/env node
// zb-list: the snapshots a target holds.
import { run, parseArgs, UsageError } from '../lib/cli.js';
import { listPool } from '../lib/list.js';

const help = `Usage: $0 [OPTION]... DATASET
List the snapshots (and bookmarks) of DATASET on the local pool: name, guid,
createtxg, creation time.

  -r, --recursive    include the descendants of DATASET
  -H                 no header, tab-separated, creation in seconds since the epoch
      --json         a JSON array
      --help         display this help and exit
      --version      output version information and exit

Examples:
  zb-list tank/data
  zb-list -H -r tank | cut -f1,2
`;

run(async (argv) => {
  const o = parseArgs(argv, { boolean: ['recursive', 'H', 'json'], alias: { r: 'recursive' } });
  if (o._.length !== 1) throw new UsageError(o._.length ? 'too many operands' : 'missing DATASET operand');
  await listPool(o._[0], { recursive: o.recursive, H: o.H, json: o.json });
}, help);
