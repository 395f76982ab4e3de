// Node's zlib as a stage (gzip compression, and gzip-format decompression where pigz
// is missing): pump() feeds the input and drains the output concurrently (backpressure
// both ways) and decides which failure to report when several things go wrong.
// Compressor children take the blocking path in ../child.ts instead.
import zlib from 'node:zlib';
import { finished } from 'node:stream/promises';
import type { Readable, Writable } from 'node:stream';
import { ZbError } from '../../errors.js';

export interface Engine {
  write(b: Buffer): Promise<void>;   // resolves once b may be reused
  end(): void;
  output: Readable;
  abort(): void;
  done: Promise<void>;
}
export interface Sink { write(b: Buffer): Promise<void>; flush(): Promise<void> }

/** Node's zlib in gzip format, compressing at `level` or decompressing (concatenated members too). */
export function zlibEngine(level?: number): Engine {
  const z = level === undefined ? zlib.createGunzip({ chunkSize: 1 << 18 })
    : zlib.createGzip({ level, chunkSize: 1 << 18 });
  const what = level === undefined ? 'gzip decompression' : 'gzip compression';
  const done = finished(z).catch((e) => { throw new ZbError(`${what} failed: ${e.message}`); });
  done.catch(() => {});
  return {
    write: (b) => writeTo(z, b),
    end: () => { z.end(); },
    output: z,
    abort: () => { z.destroy(); },
    done,
  };
}

/**
 * Write b and wait until the stream is done with it. A stream destroyed meanwhile may
 * never call back (a transform's pending chunk): 'close' rejects, or the caller would
 * wait forever and the process would end with nothing left to do, status 0.
 */
function writeTo(w: Writable, b: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const onClose = () => reject(new ZbError('zlib closed its input'));
    w.once('close', onClose);
    w.write(b, (e) => { w.off('close', onClose); if (e) reject(e); else resolve(); });
  });
}

/** Gathers output into writes of at least `size` bytes (fewer frames, fewer syscalls). */
export function coalesce(write: (b: Buffer) => Promise<void>, size = 1 << 20): Sink {
  let parts: Buffer[] = [], n = 0;
  const flush = async () => {
    if (!n) return;
    const b = parts.length === 1 ? parts[0] : Buffer.concat(parts, n);
    parts = []; n = 0;
    await write(b);
  };
  return { write: async (b) => { parts.push(b); n += b.length; if (n >= size) await flush(); }, flush };
}

/**
 * Feed `input` through `eng` into `sink`. Failures, most telling first: the input's
 * own (cut or corrupt stream), our output's (broken pipe), the engine's, and last an
 * engine that exited successfully without taking all of its input.
 */
export async function pump(input: AsyncIterable<Buffer>, eng: Engine, sink?: Sink): Promise<void> {
  let inputErr: unknown, outErr: unknown, feedErr: unknown;
  const feed = async () => {
    const it = input[Symbol.asyncIterator]();
    for (;;) {
      let r: IteratorResult<Buffer>;
      try { r = await it.next(); } catch (e) { inputErr = e; eng.abort(); return; }
      if (r.done) break;
      try { await eng.write(r.value); } catch (e) { feedErr = e; return; }
    }
    eng.end();
  };
  const drain = async () => {
    if (!sink) return;
    const it = eng.output[Symbol.asyncIterator]();
    for (;;) {
      let r: IteratorResult<Buffer>;
      try { r = await it.next(); } catch { return; }   // the engine's failure: `done` reports it
      try { if (r.done) { if (!inputErr) await sink.flush(); return; } await sink.write(r.value); }
      catch (e) { outErr = e; eng.abort(); return; }
    }
  };
  await Promise.all([feed(), drain()]);
  const engErr = await eng.done.then(() => undefined, (e) => e);
  if (inputErr) throw inputErr;
  if (outErr) throw outErr;
  if (engErr) throw engErr;
  if (feedErr) throw new ZbError(`zlib stopped reading its input: ${(feedErr as Error).message}`);
}
