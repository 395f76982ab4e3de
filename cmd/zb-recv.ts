#!/usr/bin/env node
// zb-recv: a zb stream (or a plain zfs send stream) into zfs receive.
import { UsageError, ZbError } from '../lib/errors.js';
import { run, parseArgs, prog } from '../lib/cli/command.js';
import { recv } from '../lib/zfs/recv.js';
import { localZfs } from '../lib/zfs/host.js';

const help = `Usage: $0 [OPTION]... FILESYSTEM
Read a zb stream (or a plain zfs send stream) on stdin and receive it into
FILESYSTEM with zfs receive. A stream that ends before its end frame is never
handed to zfs whole: zfs receive is stopped and nothing is committed.

  -F, --force        roll back / replace the target as zfs receive -F does
  -d                 discard the first element of the sent name (zfs receive -d)
  -u, --no-mount     do not mount the received file system (zfs receive -u)
  -s, --resumable    keep a resumable state if interrupted (zfs receive -s)
  -v, --verbose      pass zfs receive -v (its report goes to stderr)
      --help         display this help and exit
      --version      output version information and exit

Examples:
  zb-send tank/data | zb-recv backup/data
  zb-compress -d < data.zb | zb-recv -F backup/data
`;

run(async (argv) => {
  const o = parseArgs(argv, {
    boolean: ['force', 'd', 'no-mount', 'resumable', 'verbose'],
    alias: { F: 'force', u: 'no-mount', s: 'resumable', v: 'verbose' },
  });
  if (prog === 'zb-recv-ssh') throw new ZbError('not yet implemented (the ssh issue builds it)');
  if (o._.length !== 1) throw new UsageError(o._.length ? 'too many operands' : 'missing FILESYSTEM operand');
  await recv(localZfs(), { target: o._[0], force: o.force, discardFirst: o.d, noMount: o['no-mount'], resumable: o.resumable, verbose: o.verbose });
}, help);
