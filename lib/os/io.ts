// Byte I/O on file descriptors with large buffers: the hot path of every stage.
// fs.read/fs.write go straight to the fd (no stream objects, no encodings). The data
// loops of the filters (zb-count, zb-compress, zb-encrypt) read and write synchronously,
// one syscall per call as cat does, with no thread-pool round trip per 64 KiB pipe read.
// A fd another process made non-blocking answers EAGAIN: wait 1 ms and retry. zb-recv-ssh,
// whose one thread also runs the ssh transport, reads its stdin on the event loop instead.
import { fstatSync, read, write, writev, readSync, writeSync, writevSync } from 'node:fs';
import { isatty } from 'node:tty';
import { Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import { promisify } from 'node:util';
import { DiskFullError, ZbError } from '../errors.js';

const pread = promisify(read);
const pwrite = promisify(write);
const pwritev = promisify(writev);
const pause = (ms: number) => new Promise(r => setTimeout(r, ms));

export const BUF = 1 << 20;

/** Read up to buf.length bytes (at `pos`, or from the fd's offset); 0 means EOF. Retries
 *  EAGAIN (a non-blocking fd). */
export async function readFd(fd: number, buf: Buffer, off = 0, len = buf.length - off, pos: number | null = null): Promise<number> {
  for (;;) {
    try { return (await pread(fd, buf, off, len, pos)).bytesRead; }
    catch (e: any) { if (e.code === 'EAGAIN') { await pause(1); continue; } throw readError(e); }
  }
}

/** Write every byte of every buffer, in order. */
export async function writeFd(fd: number, bufs: Buffer[]): Promise<void> {
  const list = bufs.filter(b => b.length);
  while (list.length) {
    let n: number;
    try { n = list.length === 1 ? (await pwrite(fd, list[0])).bytesWritten : (await pwritev(fd, list)).bytesWritten; }
    catch (e: any) { if (e.code === 'EAGAIN') { await pause(1); continue; } throw writeError(e); }
    written(list, n);
  }
}

/** Drop the first n bytes, which a write took, from the front of list. */
function written(list: Buffer[], n: number): void {
  while (n > 0 && list.length) {
    if (n >= list[0].length) { n -= list[0].length; list.shift(); }
    else { list[0] = list[0].subarray(n); n = 0; }
  }
}

/**
 * Node puts a pipe or socket on fd 1 in non-blocking mode the first time process.stdout is
 * touched, and every stream's pipe() touches it (the AWS SDK's among them). Our writes go
 * straight to the fd: they would then meet EAGAIN whenever the next stage is slower and
 * poll every 1 ms: 512 MiB restored from s3rver into `sha256sum` took 7.4 s, where
 * `rclone cat` into it took 2.9 s (now 3.7 to 4.2 s). So take the handle now and put the fd
 * back in blocking mode, as the shell made it.
 */
export function blockingStdout(): void {
  let st;
  try { st = fstatSync(1); } catch { return; }
  if (st.isFIFO() || st.isSocket()) (process.stdout as any)._handle?.setBlocking?.(true);
}

const nap = new Int32Array(new SharedArrayBuffer(4));
function retry<T>(f: () => T): T {
  for (;;) {
    try { return f(); } catch (e: any) { if (e.code !== 'EAGAIN') throw e; Atomics.wait(nap, 0, 0, 1); }
  }
}

/** Blocking read of up to len bytes (0 at EOF). */
export function readSome(fd: number, buf: Buffer, off = 0, len = buf.length - off): number {
  try { return retry(() => readSync(fd, buf, off, len, null)); }
  catch (e: any) { throw readError(e); }
}

/** Blocking reads until buf is full or at EOF: how many bytes arrived. */
export function readFull(fd: number, buf: Buffer): number {
  let n = 0;
  for (let got; n < buf.length && (got = readSome(fd, buf, n)) > 0;) n += got;
  return n;
}

/** Blocking write of every byte of b (or of every buffer, in order, with writev). A broken
 *  pipe keeps code EPIPE (the caller tells whose pipe broke). */
export function writeAll(fd: number, b: Buffer | Buffer[]): void {
  const list = (Array.isArray(b) ? b : [b]).filter(x => x.length);
  while (list.length) {
    let n: number;
    try { n = retry(() => list.length === 1 ? writeSync(fd, list[0]) : writevSync(fd, list)); }
    catch (e: any) { throw Object.assign(writeError(e), e.code === 'EPIPE' ? { code: 'EPIPE' } : {}); }
    written(list, n);
  }
}

function readError(e: any): Error {
  return new ZbError(`read error: ${e.message}`);
}
function writeError(e: any): Error {
  if (e.code === 'EPIPE') return new ZbError('broken pipe: the next stage stopped reading');
  const full = diskFull(e);
  return full ? new DiskFullError(full) : new ZbError(`write error: ${e.message}`);
}

const EDQUOT = osConstants.errno.EDQUOT;
/**
 * A full disk or a quota reached, as one plain line, else null. libuv has no name for
 * EDQUOT (its code reads 'Unknown system error -122'), so it is told by errno.
 */
export function diskFull(e: { code?: string; errno?: number } | null | undefined): string | null {
  if (e?.code === 'ENOSPC') return 'no space left on device';
  if (EDQUOT && e?.errno === -EDQUOT) return 'disk quota exceeded';
  return null;
}

const FRESH_ROOM = 64 << 10;   // a pipe's smallest capacity

/** Buffered reader over an fd: exact reads for headers, big reads for payload; blocking
 *  reads when sync (a filter's data loop), else reads in the thread pool. When fresh, a view
 *  it hands out stays valid: bytes it has handed out are never written again (reads go on
 *  after them, or into a new buffer), for a consumer that keeps them queued; a fresh reader
 *  of a pipe or socket reads it on the event loop (LoopRead), and the fd is then its own. */
export class FdReader {
  private buf: Buffer;
  private start = 0;
  private end = 0;
  eof = false;
  private loop: LoopRead | null = null;
  constructor(public fd: number, size = BUF, public sync = false, public fresh = false) {
    this.buf = Buffer.allocUnsafe(size);
    if (fresh && !sync) this.loop = LoopRead.open(fd);
  }

  private read(off: number, len: number): Promise<number> | number {
    const loop = this.loop;
    if (loop) return loop.next().then((b) => {   // a header's bytes are copied; the rest waits
      const n = b.copy(this.buf, off, 0, Math.min(len, b.length));
      if (n < b.length) loop.unread(b.subarray(n));
      return n;
    });
    return this.sync ? readSome(this.fd, this.buf, off, len) : readFd(this.fd, this.buf, off, len);
  }

  get buffered(): number { return this.end - this.start; }

  /** Make at least n bytes available (fewer only at EOF). */
  async fill(n: number): Promise<number> {
    if (n > this.buf.length) {
      const b = Buffer.allocUnsafe(n);
      this.buf.copy(b, 0, this.start, this.end);
      this.end -= this.start; this.start = 0; this.buf = b;
    }
    while (this.end - this.start < n && !this.eof) {
      if (this.start > 0 && this.buf.length - this.end < n - (this.end - this.start)) {
        const to = this.fresh ? Buffer.allocUnsafe(this.buf.length) : this.buf;
        this.buf.copy(to, 0, this.start, this.end);
        this.buf = to;
        this.end -= this.start; this.start = 0;
      }
      const got = await this.read(this.end, this.buf.length - this.end);
      if (got === 0) this.eof = true; else this.end += got;
    }
    return this.end - this.start;
  }

  /** Look at the next n bytes without consuming them (fewer at EOF). */
  async peek(n: number): Promise<Buffer> {
    await this.fill(n);
    return this.buf.subarray(this.start, this.start + Math.min(n, this.buffered));
  }

  /** Consume exactly n bytes; the view is valid until the next call. null at a clean EOF. */
  async take(n: number): Promise<Buffer | null> {
    const have = await this.fill(n);
    if (have < n) return null;
    const b = this.buf.subarray(this.start, this.start + n);
    this.start += n;
    return b;
  }

  /** Consume whatever is buffered (reading once if empty), at most max bytes. Empty at EOF. */
  async some(max = BUF): Promise<Buffer> {
    if (this.buffered === 0) {
      if (this.eof) return this.buf.subarray(0, 0);
      if (this.loop) {   // the chunk itself becomes the buffer: no copy
        const b = await this.loop.next();
        if (!b.length) { this.eof = true; return b; }
        this.buf = b; this.start = 0; this.end = b.length;
      }
      // fresh: on after what was handed out, or into a new buffer when little room is left
      else {
        if (!this.fresh || this.buf.length - this.end < FRESH_ROOM) {
          if (this.fresh) this.buf = Buffer.allocUnsafe(this.buf.length);
          this.start = this.end = 0;
        }
        const got = await this.read(this.end, this.buf.length - this.end);
        if (got === 0) { this.eof = true; return this.buf.subarray(0, 0); }
        this.end += got;
      }
    }
    const n = Math.min(max, this.buffered);
    const b = this.buf.subarray(this.start, this.start + n);
    this.start += n;
    return b;
  }
}

/** A pipe or socket read on the event loop (epoll; libuv reads straight into our buffers)
 *  rather than in the thread pool, with no hand-off between threads per read. Chunks are
 *  views that stay valid (each read goes after the last, or into a new buffer); reading
 *  pauses while QUEUED bytes wait, and keeps the process alive only while a reader waits
 *  (a stage that failed at start must not wait for its writer). The fd becomes non-blocking,
 *  as process.stdin makes it, and is closed at its end. */
class LoopRead {
  private pool = Buffer.allocUnsafe(BUF);
  private pos = 0;
  private queue: Buffer[] = [];
  private queued = 0;
  private paused = true;
  private ended = false;
  private err: Error | null = null;
  private wait: { ok: (b: Buffer) => void; fail: (e: Error) => void } | null = null;
  private s: Socket;

  private constructor(fd: number) {
    this.s = new Socket({ fd, readable: true, writable: false, allowHalfOpen: true, pauseOnCreate: true, onread: {
      buffer: () => this.pool.subarray(this.pos),   // asked for after each read: where the next goes
      callback: (n: number) => { this.got(n); },
    } } as any);
    this.s.unref();   // read ahead, but keep the process alive only while a reader waits
    this.s.on('end', () => { this.ended = true; this.give(); });
    this.s.on('error', (e) => { this.err = readError(e); this.give(); });
  }

  static open(fd: number): LoopRead | null {
    let st;
    try { st = fstatSync(fd); } catch { return null; }
    return st.isFIFO() || st.isSocket() ? new LoopRead(fd) : null;
  }

  private got(n: number): void {
    this.queue.push(this.pool.subarray(this.pos, this.pos + n));
    this.queued += n;
    this.pos += n;
    if (this.pool.length - this.pos < FRESH_ROOM) { this.pool = Buffer.allocUnsafe(BUF); this.pos = 0; }
    if (this.queued >= QUEUED) { this.paused = true; this.s.pause(); }
    this.give();
  }

  /** Hand the waiting reader what there is: a chunk, the end, or the error. */
  private give(): void {
    const w = this.wait;
    if (!w || !(this.queue.length || this.err || this.ended)) return;
    this.wait = null;
    this.s.unref();
    if (this.queue.length) w.ok(this.take());
    else if (this.err) w.fail(this.err);
    else w.ok(Buffer.alloc(0));
  }

  private take(): Buffer {
    const b = this.queue.shift()!;
    this.queued -= b.length;
    if (this.paused && !this.ended && this.queued < QUEUED) { this.paused = false; this.s.resume(); }
    return b;
  }

  /** Put back the unused end of the last chunk: it comes next. */
  unread(b: Buffer): void { this.queue.unshift(b); this.queued += b.length; }

  next(): Promise<Buffer> {
    if (this.queue.length) return Promise.resolve(this.take());
    if (this.err) return Promise.reject(this.err);
    if (this.ended) return Promise.resolve(Buffer.alloc(0));
    if (this.paused) { this.paused = false; this.s.resume(); }
    this.s.ref();
    return new Promise((ok, fail) => { this.wait = { ok, fail }; });
  }
}
const QUEUED = 2 * BUF;

export function isTTY(fd: number): boolean {
  return isatty(fd);   // not any character device: /dev/null is one
}
