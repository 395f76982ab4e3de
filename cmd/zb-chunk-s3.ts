#!/usr/bin/env node
// zb-chunk-s3: store a zb stream as chunk objects plus a map entry on S3; -d emits one back;
// --verify re-hashes a store. See zb-chunk-s3(1) and zb-map(5).
import { run, parseArgs, prog } from '../lib/cli/command.js';
import { parseSize } from '../lib/cli/size.js';
import { S3Store } from '../lib/store/s3/s3.js';
import { S3_STRINGS, s3Options } from '../lib/store/s3/options.js';
import { PENDING_STATUS } from '../lib/store/s3/glacier.js';
import { CHUNK_BOOLEANS, CHUNK_HELP, CHUNK_STRINGS, chunkCommand, chunkModes } from '../lib/cli/chunk-command.js';

const help = `Usage: $0 --bucket B [OPTION]... < STREAM
  or:  $0 -d --bucket B [OPTION]... DATASET[@SNAP] > STREAM
  or:  $0 --verify --bucket B [--prefix P] [DATASET]
Store a zb stream as chunk objects under s3://B/PREFIX/chunks/ and record it in
s3://B/PREFIX/map.json (one PutObject), only once the whole stream arrived and
every chunk's upload completed with the right size. With -d, write a stored
snapshot back out: each chunk read once (one GET), its sha256 checked as it
passes; a chunk that does not match cuts the stream before its end.

  -b, --bucket B          the bucket (created when missing)
  -P, --prefix P          key prefix in the bucket (default: this host's name)
      --server URL        endpoint of an S3-compatible server (path-style)
      --region R          region (default AWS_REGION, else us-east-1)
      --key ID            access key id (default AWS_ACCESS_KEY_ID, the shared
                          credentials file, --profile)
      --secret S          secret key (ps shows it: prefer AWS_SECRET_ACCESS_KEY)
      --profile NAME      profile of the shared credentials file
      --chunk-size SIZE   largest chunk object (default 4G)
      --part-size SIZE    multipart part size, 5M to 5G (default: 8M, or more
                          when a chunk would need over --max-parts parts)
      --max-parts N       most parts per chunk (default 10000)
      --concurrency N     parts of a chunk in flight (default 4); peak memory is
                          about 120M + part size x (concurrency + 2)
      --storage-class C   storage class of the chunks (default the bucket's)
      --timeout SECONDS   a request silent this long is retried (default 30;
                          4 attempts: a dead server fails within 4 x this)
      --no-glacier        no rule moving this prefix's chunks to GLACIER (and
                          remove ours, if set); default: after --glacier-days
      --glacier-days N    days before the move (default 1)
${CHUNK_HELP}      --restore-tier T    with -d: Bulk (default), Standard or Expedited, for
                          chunks in GLACIER or DEEP_ARCHIVE
      --restore-days N    with -d: days restored copies stay (default 7)
      --wait              with -d: poll until archived chunks are readable
      --verify            re-hash every chunk, check every incremental's parent
      --help              display this help and exit
      --version           output version information and exit

Exit status: 0 success, 1 failure (nothing committed), 2 usage, 3 (-d) chunks
are in an archive tier: their restore was requested, run again later.

Examples:
  zb-send tank/data | zb-chunk-s3 --bucket backups --server http://rgw:7480
  zb-chunk-s3 -d --bucket backups tank/data | zb-recv tank/copy
`;

run(async (argv) => {
  const o = parseArgs(argv, {
    string: [...S3_STRINGS, ...CHUNK_STRINGS],
    boolean: [...CHUNK_BOOLEANS, 'glacier', 'wait'],
    alias: { b: 'bucket', P: 'prefix', d: 'restore', v: 'verbose' },
  });
  const s3 = s3Options(o, argv);
  const chunkSize = parseSize(o['chunk-size'] ?? '4G', 'chunk size');
  const modes = chunkModes(o, ['wait']);
  // -d --wait: while chunks are in an archive tier (exit 3), ask again every ZB_S3_POLL_MS (60 s)
  await chunkCommand(() => new S3Store({ ...s3, chunkSize }), o, chunkSize, modes, async (emitNow) => {
    for (let said = false; ; said = true) {
      try { return await emitNow(); } catch (e: any) {
        if (!o.wait || e?.status !== PENDING_STATUS) throw e;
        if (!said) process.stderr.write(`${prog}: ${e.message.replace(/, or give --wait$/, '')}; waiting\n`);
        await new Promise(r => setTimeout(r, Number(process.env.ZB_S3_POLL_MS ?? 60_000)));
      }
    }
  });
}, help);
