#!/usr/bin/env node
// zb-compress: compress (or with -d decompress) the payload of a zb stream.
import { UsageError } from '../lib/errors.js';
import { run, parseArgs } from '../lib/cli/command.js';
import { compress, decompress } from '../lib/filters/compress/compress.js';
import { ALGS } from '../lib/filters/compress/algs.js';

const help = `
Usage: $0 [--gzip|--pigz|--zstd|--lz4|--xz] [-l N] [-T N] [--raw] [--program PATH]
  or:  $0 -d [--raw] [--gzip|--pigz|--zstd|--lz4|--xz] [--program PATH]
Compress standard input (a zb stream, or a plain zfs send stream) to standard output,
recording the algorithm in the stream header; with -d, decompress.

  --gzip --pigz --zstd --lz4 --xz   algorithm (default gzip; with -d, the one the
                    stream header or the data's magic names)
  -l, --level N     compression level (gzip/pigz 1-9 default 6, zstd 1-22 default 3,
                    lz4 1-12 default 1, xz 0-9 default 6)
  -T, --threads N   compressor threads, 0 = all cores (zstd, pigz, xz; default 0)
  -d, --decompress  decompress: the stream header says which algorithm; plain input
                    (gzip, zstd, xz, lz4) is recognised by its magic
      --raw         compress: write the plain format the real CLI reads, and accept
                    any plain input; -d: write the plain payload, no zb framing
      --program PATH  run PATH instead of the algorithm's program (zstd, pigz, xz,
                    lz4; gzip runs in Node unless PATH is given)
      --help        show this help
      --version     show the version

Exit status: 0 success, 1 failure (cut input, compressor failed), 2 usage.
Example: zb-send tank/data | $0 --zstd | zb-chunk-dir /backup
`;

run(async (argv) => {
  // -T0, -l19: the attached value forms compressor users type
  argv = argv.flatMap((a) => /^-[lT]\d+$/.test(a) ? [a.slice(0, 2), a.slice(2)] : [a]);
  const o = parseArgs(argv, {
    string: ['level', 'threads', 'program'],
    boolean: ['decompress', 'raw', ...ALGS],
    alias: { l: 'level', T: 'threads', d: 'decompress' },
  });
  if (o._.length) throw new UsageError(`unexpected argument '${o._[0]}'`);
  const algs = ALGS.filter((a) => o[a]);
  if (algs.length > 1) throw new UsageError(`choose one algorithm, not ${algs.map((a) => `--${a}`).join(' and ')}`);
  const opts = { alg: algs[0], level: o.level, threads: o.threads, raw: o.raw, program: o.program };
  await (o.decompress ? decompress(opts) : compress(opts));
}, help);
