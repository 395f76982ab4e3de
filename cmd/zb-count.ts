#!/usr/bin/env node
// zb-count: pass a stream through unchanged, counting its payload bytes.
import { growStdio } from '../lib/os/proc.js';
import { UsageError } from '../lib/errors.js';
import { run, parseArgs } from '../lib/cli/command.js';
import { count } from '../lib/filters/count.js';
import { parseSize } from '../lib/cli/size.js';

const help = `
Usage: $0 [--name LABEL] [--progress] [--json FILE|-] [-q] [--interval SECONDS] [--limit-rate RATE]
Copy standard input to standard output byte for byte (a zb stream keeps its framing;
plain input passes too) and count the payload bytes. At the end print 'N bytes' on
standard error.

      --name LABEL      label the progress line, events and summary
      --progress        show a progress line on standard error even when it is not
                        a terminal (on a terminal it is shown unless -q)
      --json FILE       write progress events and a final 'done' event to FILE as
                        newline-delimited JSON; '-' means standard error
  -q, --quiet           no summary and no automatic progress line
      --interval SECONDS  time between progress updates (default 1)
      --limit-rate RATE write at most RATE bytes a second on average (10M, 1G;
                        a bandwidth limit for what follows in the pipeline)
      --help            show this help
      --version         show the version

The summary is printed only without --progress and --json.
Exit status: 0 success, 1 failure (cut or corrupt stream, write error), 2 usage.
Example: zb-send tank/data | $0 --name sent --json /run/sent.json | zb-compress
`;

run(async (argv) => {
  const j = argv.indexOf('--json');   // mri takes '-' for an option, not a value
  if (j >= 0 && argv[j + 1] === '-') argv.splice(j, 2, '--json=-');
  const o = parseArgs(argv, {
    string: ['name', 'json', 'interval', 'limit-rate'],
    boolean: ['progress', 'quiet'],
    alias: { q: 'quiet' },
  });
  if (o._.length) throw new UsageError(`unexpected argument '${o._[0]}'`);
  const interval = o.interval === undefined ? 1 : Number(o.interval);
  if (!/^\d*\.?\d+$/.test(o.interval ?? '1') || !(interval > 0))
    throw new UsageError(`invalid interval '${o.interval}' (seconds, e.g. 1 or 0.5)`);
  const grown = growStdio();   // 1 MiB stdin/stdout pipes: fewer context switches for us and our neighbours
  const limitRate = o['limit-rate'] === undefined ? undefined : parseSize(o['limit-rate'], 'rate');
  await count({ name: o.name, progress: o.progress, json: o.json, quiet: o.quiet, interval, limitRate });
  await grown;
}, help);
