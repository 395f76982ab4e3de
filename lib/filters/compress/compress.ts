// zb-compress: compress the payload of a zb stream (pushing a compress filter onto
// the header) or decompress it (popping the filter); --raw speaks the plain format.
import { ZbError, UsageError } from '../../errors.js';
import { ZbReader, ZbWriter, EmptyInputError, newMeta, type Filter, type Meta } from '../../stream/zb.js';
import { isZfsStream } from '../../stream/zfs.js';
import { ALGS, INFO, detect, family, parseInt10, program, type Alg } from './algs.js';
import { zlibEngine, pump, coalesce } from './engine.js';
import { throughChild, withDrain, type Drain } from '../child.js';
import { growStdio, which } from '../../os/proc.js';

export interface CompressOptions {
  alg?: Alg;           // from --gzip, --pigz, ...; gzip when compressing, the stream's when decompressing
  level?: string;
  threads?: string;
  raw?: boolean;       // plain compressed format on output (compress) / plain output (decompress)
  program?: string;    // the binary to run instead of the algorithm's usual one
}

/** Compress fd 0 to fd 1. gzip runs in Node's zlib unless --program names a binary. */
export async function compress(o: CompressOptions): Promise<void> {
  const alg = o.alg ?? 'gzip', info = INFO[alg];
  const level = parseInt10(o.level, 'level', info.min, info.max) ?? info.level;
  const threads = parseInt10(o.threads, 'thread count', 0, 1024);
  const zlibGzip = alg === 'gzip' && !o.program;
  const prog = zlibGzip ? '' : program(alg, o.program);
  await withDrain(!o.raw && !zlibGzip, async (w) => {
    const r = await openInput(!!o.raw);
    const filter: Filter = { kind: 'compress', alg, level };
    const meta: Meta = r ? { ...r.meta, filters: [...r.meta.filters, filter] } : newMeta({ plain: true, filters: [filter] });
    await through(zlibGzip ? { zlib: level } : { argv: [prog, ...info.compress(level, threads)] }, r, meta, !!o.raw, w);
  });
}

/** Decompress fd 0 (a zb stream, or plain compressed data) to fd 1. */
export async function decompress(o: CompressOptions): Promise<void> {
  if (o.level !== undefined) throw new UsageError("'--level' is for compressing, not with '-d'");
  const threads = parseInt10(o.threads, 'thread count', 0, 1024);
  // the algorithm is in the header: a drain is readied on the guess that a program decodes
  await withDrain(!o.raw, async (w) => decompressWith(o, threads, w));
}

async function decompressWith(o: CompressOptions, threads: number | undefined, w: Drain | null): Promise<void> {
  const r = await ZbReader.open(0, { plain: 'any' });
  let alg: Alg, meta: Meta;
  if (!r.plain) {
    const f = r.meta.filters.at(-1);
    if (!f) throw new ZbError('stream is not compressed');
    if (f.kind !== 'compress')
      throw new ZbError(f.kind === 'encrypt' ? `stream is encrypted (${f.alg}): decrypt it before decompressing`
        : `stream's last filter is ${f.kind} (${f.alg}), not a compression`);
    if (!ALGS.includes(f.alg as Alg)) throw new ZbError(`stream is compressed with unknown algorithm '${f.alg}'`);
    alg = f.alg as Alg;
    if (o.alg && family(o.alg) !== family(alg)) throw new ZbError(`stream is compressed with ${alg}, not ${o.alg}`);
    meta = { ...r.meta, filters: r.meta.filters.slice(0, -1) };
  } else {
    const found = detect(await r.peek(6));
    if (!o.alg && !found) throw new ZbError('input is neither a zb stream nor gzip, zstd, xz or lz4 data');
    alg = o.alg ?? found!;
    meta = r.meta;
  }
  await through(decoder(o.alg ?? alg, threads, o.program), r, meta, !!o.raw, w);
}

/** A child program (argv) or Node's zlib (gzip at a level, or gunzip). */
type Plan = { argv: string[] } | { zlib: number | undefined };

async function through(plan: Plan, r: ZbReader | null, meta: Meta, raw: boolean, drain: Drain | null): Promise<void> {
  if ('argv' in plan) return throughChild(plan.argv, r, raw ? null : meta, drain);   // enlarges our pipes too
  drain?.end();   // not needed after all (gzip in Node's zlib)
  const grown = growStdio();   // 1 MiB stdin/stdout pipes: fewer context switches for us and our neighbours
  const w = new ZbWriter(1, meta, raw);
  await pump(r ? r.payload() : empty(), zlibEngine(plan.zlib), coalesce((b) => w.write(b)));
  await w.end();
  await grown;
}

/**
 * gzip format (written by gzip or pigz) goes to pigz when it is on PATH (faster), else
 * to Node's zlib, so restoring never needs pigz; --program overrides.
 */
function decoder(alg: Alg, threads: number | undefined, override: string | undefined): Plan {
  if (family(alg) === 'gzip' && !override) {
    if (!which('pigz')) return { zlib: undefined };
    alg = 'pigz';
  }
  return { argv: [program(alg, override), ...INFO[alg].decompress(threads)] };
}

/** The input as a zb stream; plain input only when it is a zfs send stream, or any with --raw (null: empty). */
async function openInput(raw: boolean): Promise<ZbReader | null> {
  let r: ZbReader;
  try { r = await ZbReader.open(0, { plain: 'any' }); }
  catch (e) { if (raw && e instanceof EmptyInputError) return null; throw e; }
  if (r.plain && !raw && !isZfsStream(Buffer.from(await r.peek(16))))
    throw new ZbError('input is neither a zb stream nor a zfs send stream (use --raw to compress other data)');
  return r;
}

async function* empty(): AsyncGenerator<Buffer> { /* no payload */ }
