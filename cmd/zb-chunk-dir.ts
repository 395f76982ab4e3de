#!/usr/bin/env node
// zb-chunk-dir: store a zb stream as chunk files plus a map entry; -d emits one back;
// --verify re-hashes a store. See zb-chunk-dir(1) and zb-map(5).
import { hostname } from 'node:os';
import { UsageError } from '../lib/errors.js';
import { run, parseArgs } from '../lib/cli/command.js';
import { parseSize } from '../lib/cli/size.js';
import { DirStore } from '../lib/store/dir/dir.js';
import { CHUNK_BOOLEANS, CHUNK_HELP, CHUNK_STRINGS, chunkCommand, chunkModes } from '../lib/cli/chunk-command.js';

const help = `Usage: $0 --dest DIR [OPTION]... < STREAM
  or:  $0 -d --dest DIR [OPTION]... DATASET[@SNAP] > STREAM
  or:  $0 --verify --dest DIR [--prefix P] [DATASET]
Store a zb stream as chunk files under DIR/PREFIX/chunks/ and record it in
DIR/PREFIX/map.json, only once the whole stream arrived and every chunk is on
disk. With -d, write a stored snapshot back out as a zb stream (the newest one
when only DATASET is given): each chunk read once, its sha256 checked as it
passes; a chunk that does not match cuts the stream before its end, so that
no receive commits it.

  -D, --dest DIR          the backup directory (must exist)
  -P, --prefix P          subdirectory of DIR (default: this host's name)
      --chunk-size SIZE   largest chunk file (default 2G; e.g. 512M)
${CHUNK_HELP}      --legacy-md md5|sha256
                          with -d: the key digest of an original-tool openssl
                          backup (md5 before OpenSSL 1.1, sha256 since)
      --verify            re-hash every chunk, check every incremental's parent
      --help              display this help and exit
      --version           output version information and exit

A snapshot already stored (same dataset and guid) is not stored again, when
its entry can be restored and is of the same kind (full, or incremental on
the same parent): the input is read to its end and the exit status is 0.
Otherwise the new entry replaces the stored one (the old chunks are kept).
A map that does not validate is refused, and nothing is changed; a chunk file
is deleted only when a failed run's marker lists it (see zb-chunk-dir(1)).

Exit status: 0 success, 1 failure (nothing committed), 2 usage.

Examples:
  zb-send tank/data | zb-compress --zstd | zb-chunk-dir --dest /mnt/usb
  zb-chunk-dir -d --dest /mnt/usb tank/data | zb-compress -d | zb-recv tank/copy
`;

run(async (argv) => {
  const o = parseArgs(argv, { string: ['dest', 'prefix', ...CHUNK_STRINGS], boolean: CHUNK_BOOLEANS,
    alias: { D: 'dest', P: 'prefix', d: 'restore', v: 'verbose' } });
  if (!o.dest) throw new UsageError('missing --dest DIR');
  const modes = chunkModes(o);
  const chunkSize = o.restore || o.verify ? 0 : parseSize(o['chunk-size'] ?? '2G', 'chunk size');
  await chunkCommand(() => new DirStore(o.dest, o.prefix ?? hostname()), o, chunkSize, modes);
}, help);
