#!/usr/bin/env node
// zb-filter: run a command over a zb stream's payload, recording it by name; -d undoes it.
import { UsageError } from '../lib/errors.js';
import { run, parseArgs } from '../lib/cli/command.js';
import { commandFilter, FILTER_NAME } from '../lib/filters/command.js';

const help = `Usage: $0 --name NAME -- COMMAND [ARG]... < STREAM
  or:  $0 -d --name NAME -- COMMAND [ARG]... < STREAM
Run COMMAND with the payload of a zb stream on its stdin; its stdout becomes the
payload of the zb stream written to standard output, whose header records the
filter as NAME (never the command line). With -d, the stream's last filter must
be NAME: COMMAND undoes it, and the header drops it.

  -n, --name NAME         the filter's name in the header and the map (letters,
                          digits, . _ + -)
  -d, --decode            undo the filter NAME (COMMAND is its restoring command)
      --help              display this help and exit
      --version           output version information and exit

A cut input, or COMMAND failing, writes no end frame: nothing downstream commits.
Exit status: 0 success, 1 failure, 2 usage.
Example: zb-send tank/data | $0 --name bz -- bzip2 -c | zb-chunk-dir --dest /mnt/usb
         zb-chunk-dir -d --dest /mnt/usb tank/data | $0 -d --name bz -- bzip2 -dc | zb-recv tank/b
`;

run(async (argv) => {
  const dd = argv.indexOf('--');
  const o = parseArgs(dd < 0 ? argv : argv.slice(0, dd), { string: ['name'], boolean: ['decode'], alias: { n: 'name', d: 'decode' } });
  if (dd < 0 || dd === argv.length - 1) throw new UsageError('missing -- COMMAND [ARG]...');
  if (o._.length) throw new UsageError(`unexpected '${o._[0]}' before --`);
  if (!o.name || !FILTER_NAME.test(o.name)) throw new UsageError(o.name ? `invalid filter name '${o.name}' (letters, digits, . _ + -)` : 'missing --name NAME');
  await commandFilter({ name: o.name, argv: argv.slice(dd + 1), decode: o.decode });
}, help);
