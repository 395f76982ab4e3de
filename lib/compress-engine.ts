// A compressor as an engine: bytes in, bytes out, a `done` that tells success.
// Two kinds: a child process (zstd, pigz, xz, lz4, gzip) and Node's zlib.
// pump() feeds the input and drains the output concurrently (backpressure both
// ways), and decides which failure to report when several things go wrong.
import zlib from 'node:zlib';
import { finished } from 'node:stream/promises';
import type { Readable, Writable } from 'node:stream';
import { ZbError } from './cli.js';
import { start } from './proc.js';

export interface Engine {
  write(b: Buffer): Promise<void>;   // resolves once b may be reused
  end(): void;
  output: Readable | null;           // null: the engine writes to the output fd itself
  abort(): void;
  done: Promise<void>;
}
export interface Sink { write(b: Buffer): Promise<void>; flush(): Promise<void> }

/** Run argv; its stdout goes to outFd directly when given, else to `output`. */
export function childEngine(argv: string[], outFd?: number): Engine {
  const c = start(argv, ['pipe', outFd ?? 'pipe', 'pipe']);
  c.proc.stdin!.on('error', () => {});   // EPIPE when it exits early: `done` says why
  const done = c.done.catch((e) => {
    if (c.proc.signalCode === 'SIGPIPE') throw new ZbError('broken pipe: the next stage stopped reading');
    throw e;
  });
  done.catch(() => {});
  return {
    write: (b) => writeTo(c.proc.stdin!, b),
    end: () => c.proc.stdin!.end(),
    output: outFd === undefined ? c.proc.stdout! : null,
    abort: () => { c.proc.kill('SIGTERM'); },
    done,
  };
}

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
    const onClose = () => reject(new ZbError('the compressor closed its input'));
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
    if (!eng.output || !sink) return;
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
  if (feedErr) throw new ZbError(`the compressor stopped reading its input: ${(feedErr as Error).message}`);
}
