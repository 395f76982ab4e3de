// What zb-chunk-dir and zb-chunk-s3 share: the modes (store, -d, --verify) over any
// ChunkStore, their usage rules, and what each prints. The binaries only make the store.
import { UsageError, ZbError } from '../errors.js';
import { prog, type Opts } from './command.js';
import { parseSeconds } from './size.js';
import { storeStream } from '../store/write.js';
import { emit, verifyStore } from '../store/read.js';
import type { ChunkStore } from '../store/store.js';
import type { LegacyMd } from '../store/legacy.js';

export const CHUNK_STRINGS = ['chunk-size', 'dataset', 'snapshot', 'lock-wait', 'guid', 'legacy-md'];
export const CHUNK_BOOLEANS = ['restore', 'raw', 'verify', 'verbose'];

/** Their --help lines for the options they share. */
export const CHUNK_HELP = `      --dataset DS        source dataset, for input without zb-send's metadata
      --snapshot SNAP     source snapshot name, likewise (both are needed)
      --lock-wait SECONDS how long to wait for another writer's lock (default 60)
  -v, --verbose           say what was stored
  -d, --restore           emit DATASET[@SNAP] on stdout
      --guid GUID         with -d: the stored snapshot with this guid
      --raw               with -d: the plain payload, without zb framing
`;

/** The usage checks (before any store is made: they come first); `dOnly` are further
 *  options that go with -d. Returns --legacy-md and --lock-wait. */
export function chunkModes(o: Opts, dOnly: string[] = []): { md: LegacyMd | undefined; lockWait: number } {
  const lockWait = parseSeconds(o['lock-wait'] ?? '60', '--lock-wait');
  const md = o['legacy-md'];
  if (md !== undefined && md !== 'md5' && md !== 'sha256') throw new UsageError(`--legacy-md is md5 or sha256, not '${md}'`);
  if (o.restore && o.verify) throw new UsageError('give one of -d and --verify');
  const withD = ['raw', 'guid', ...dOnly, 'legacy-md'];
  if (!o.restore && withD.some(k => o[k])) throw new UsageError(`${withD.map(k => `--${k}`).join(', ').replace(/, ([^,]*)$/, ' and $1')} go with -d`);
  return { md, lockWait };
}

/** Run the mode o asks for against the store `make` makes (after the operand checks, which
 *  come first); `emitOnce` may wrap emit (S3's --wait). */
export async function chunkCommand(make: () => ChunkStore, o: Opts, chunkSize: number, { md, lockWait }: ReturnType<typeof chunkModes>,
  emitOnce: (run: () => Promise<void>) => Promise<void> = (run) => run()): Promise<void> {
  if (o.verify) {
    if (o._.length > 1) throw new UsageError('too many operands');
    const st = make(), r = await verifyStore(st, o._[0]);
    for (const n of r.notes) process.stderr.write(`${prog}: note: ${n}\n`);
    for (const p of r.problems) process.stdout.write(`${p}\n`);
    if (r.problems.length) throw new ZbError(`${r.problems.length} problem(s) found in '${st.where}'`);
    process.stdout.write(`verified ${r.snapshots} snapshot(s), ${r.chunks} chunk(s), ${r.bytes} bytes: no problems\n`);
    return;
  }
  if (o.restore) {
    if (o._.length !== 1) throw new UsageError(o._.length ? 'too many operands' : 'missing DATASET[@SNAP] operand');
    const st = make();
    return emitOnce(() => emit(st, { target: o._[0], guid: o.guid, raw: o.raw, legacyMd: md }));
  }
  if (o._.length) throw new UsageError(`unexpected operand '${o._[0]}' (the stream comes on stdin)`);
  if ((o.dataset === undefined) !== (o.snapshot === undefined)) throw new UsageError('--dataset and --snapshot go together');
  const msg = await storeStream(make(), { chunkSize, lockWait, dataset: o.dataset, snapshot: o.snapshot });
  if (o.verbose || !msg.startsWith('stored')) process.stderr.write(`${prog}: ${msg}\n`);
}
