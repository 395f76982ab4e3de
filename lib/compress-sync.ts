// Blocking fd I/O for the data loops that run synchronously (zb-count, zb-compress
// with a child): one syscall per call, no thread-pool round trip, as cat does it.
// An fd another process made non-blocking answers EAGAIN: wait 1 ms and retry.
import { readSync, writeSync } from 'node:fs';
import { ZbError } from './cli.js';

const nap = new Int32Array(new SharedArrayBuffer(4));
function retry<T>(f: () => T): T {
  for (;;) {
    try { return f(); } catch (e: any) { if (e.code !== 'EAGAIN') throw e; Atomics.wait(nap, 0, 0, 1); }
  }
}

/** Read up to buf.length bytes (0 at EOF). */
export function readSome(fd: number, buf: Buffer): number {
  try { return retry(() => readSync(fd, buf, 0, buf.length, null)); }
  catch (e: any) { throw new ZbError(`read error: ${e.message}`); }
}

/** Write all of b. EPIPE keeps its code (the caller tells whose pipe broke). */
export function writeAll(fd: number, b: Buffer): void {
  for (let off = 0; off < b.length;) {
    try { off += retry(() => writeSync(fd, b, off, b.length - off)); }
    catch (e: any) {
      if (e.code === 'EPIPE') throw Object.assign(new ZbError('broken pipe: the next stage stopped reading'), { code: 'EPIPE' });
      throw new ZbError(`write error: ${e.message}`);
    }
  }
}
