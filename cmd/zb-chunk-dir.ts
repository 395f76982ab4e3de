#!/usr/bin/env node
// zb-chunk-dir: store a zb stream as chunk files plus a map entry; -d emits one back;
// --verify re-hashes a store. See zb-chunk-dir(1) and zb-map(5).
import { hostname } from 'node:os';
import { UsageError, ZbError } from '../lib/errors.js';
import { run, parseArgs, prog } from '../lib/cli/command.js';
import { parseSeconds, parseSize } from '../lib/cli/size.js';
import { DirStore } from '../lib/store/dir/dir.js';
import { storeStream } from '../lib/store/write.js';
import { emit, verifyStore } from '../lib/store/read.js';

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
      --dataset DS        source dataset, for input without zb-send's metadata
      --snapshot SNAP     source snapshot name, likewise (both are needed)
      --lock-wait SECONDS how long to wait for another writer's lock (default 60)
  -v, --verbose           say what was stored
  -d, --restore           emit DATASET[@SNAP] on stdout
      --guid GUID         with -d: the stored snapshot with this guid
      --raw               with -d: the plain payload, without zb framing
      --legacy-md md5|sha256
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
  const o = parseArgs(argv, {
    string: ['dest', 'prefix', 'chunk-size', 'dataset', 'snapshot', 'lock-wait', 'guid', 'legacy-md'],
    boolean: ['restore', 'raw', 'verify', 'verbose'],
    alias: { D: 'dest', P: 'prefix', d: 'restore', v: 'verbose' },
  });
  if (!o.dest) throw new UsageError('missing --dest DIR');
  const prefix = o.prefix ?? hostname();
  const lockWait = parseSeconds(o['lock-wait'] ?? '60', '--lock-wait');
  const md = o['legacy-md'];
  if (md !== undefined && md !== 'md5' && md !== 'sha256') throw new UsageError(`--legacy-md is md5 or sha256, not '${md}'`);
  if (o.restore && o.verify) throw new UsageError('give one of -d and --verify');
  if (!o.restore && (o.raw || o.guid || md)) throw new UsageError('--raw, --guid and --legacy-md go with -d');
  const st = () => new DirStore(o.dest, prefix);   // after the usage checks: those come first
  if (o.verify) {
    if (o._.length > 1) throw new UsageError('too many operands');
    const r = await verifyStore(st(), o._[0]);
    for (const n of r.notes) process.stderr.write(`${prog}: note: ${n}\n`);
    for (const p of r.problems) process.stdout.write(`${p}\n`);
    if (r.problems.length) throw new ZbError(`${r.problems.length} problem(s) found in '${o.dest}/${prefix}'`);
    process.stdout.write(`verified ${r.snapshots} snapshot(s), ${r.chunks} chunk(s), ${r.bytes} bytes: no problems\n`);
    return;
  }
  if (o.restore) {
    if (o._.length !== 1) throw new UsageError(o._.length ? 'too many operands' : 'missing DATASET[@SNAP] operand');
    await emit(st(), { target: o._[0], guid: o.guid, raw: o.raw, legacyMd: md });
    return;
  }
  if (o._.length) throw new UsageError(`unexpected operand '${o._[0]}' (the stream comes on stdin)`);
  if ((o.dataset === undefined) !== (o.snapshot === undefined)) throw new UsageError('--dataset and --snapshot go together');
  const msg = await storeStream(st(), { chunkSize: parseSize(o['chunk-size'] ?? '2G', 'chunk size'), lockWait,
    dataset: o.dataset, snapshot: o.snapshot });
  if (o.verbose || !msg.startsWith('stored')) process.stderr.write(`${prog}: ${msg}\n`);
}, help);
