// The zb stream (zb-stream(5)): a clear-text header with JSON metadata, then the
// payload in length-prefixed frames, then an end frame with the payload length.
// A reader that reaches EOF before the end frame fails: EOF is not success.
import { hostname } from 'node:os';
import { ZbError } from '../errors.js';
import { FdReader, writeFd, writeAll } from '../os/io.js';
import { isZfsStream } from './zfs.js';

export const MAGIC = Buffer.from('ZBSTREAM');
export const VERSION = 1;
export const MAX_FRAME = 64 << 20;
const MAX_HEADER = 1 << 20;

/** One applied filter, as data (never argv). Compression: alg, level. Encryption: alg, format details. A command: alg is its name. */
export interface Filter { kind: 'compress' | 'encrypt' | 'command'; alg: string; [k: string]: unknown }
/** The name of a command filter (its alg): what the map records and zb-list shows. */
export const FILTER_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;

export interface Meta {
  dataset?: string;          // source dataset, e.g. tank/data
  snapshot?: string;         // snapshot name without the dataset, e.g. daily-3
  guid?: string;             // decimal u64 as a string (does not fit a JS number)
  createtxg?: string;
  creation?: number;         // seconds since the epoch
  base?: { name: string; guid: string } | null;  // incremental base, null for a full stream
  intermediates?: boolean;   // -I: the stream also holds every snapshot between base and this one
  recursive?: boolean;
  raw?: boolean;             // zfs send -w
  size?: number | null;      // estimated payload size of the zfs stream, when zfs can tell
  host?: string;
  time?: string;             // when the stream was written (ISO 8601)
  filters: Filter[];
  plain?: boolean;           // wrapped from plain input: no source metadata
}

export class CutStreamError extends ZbError {
  constructor(detail = 'input ended before the end frame') {
    super(`${detail}: the stream is incomplete (did an earlier stage fail?)`);
  }
}
/** Not a byte arrived (a filter with --raw takes that as empty data). */
export class EmptyInputError extends CutStreamError {
  constructor() { super('input is empty'); }
}

export function encodeHeader(meta: Meta): Buffer {
  const json = Buffer.from(JSON.stringify(meta));
  const h = Buffer.allocUnsafe(16);
  MAGIC.copy(h, 0);
  h.writeUInt32BE(VERSION, 8);
  h.writeUInt32BE(json.length, 12);
  return Buffer.concat([h, json]);
}

/** The end frame: length 0, then the payload length as u64 (zb-stream(5)). */
export function encodeEnd(total: number): Buffer {
  const e = Buffer.alloc(12);
  e.writeBigUInt64BE(BigInt(total), 4);
  return e;
}

export function newMeta(m: Partial<Meta> = {}): Meta {
  return { host: hostname(), time: new Date().toISOString(), filters: [], ...m };
}

/** Incremental frame parser: feeds raw wire bytes, collects payload views, checks the end frame. */
export class FrameScanner {
  payload = 0;
  done = false;
  private rem = 0;
  private hdr = Buffer.alloc(8);
  private hlen = 0;
  private want = 4;
  private inEnd = false;

  feed(b: Buffer, out?: Buffer[]): void {
    let i = 0;
    while (i < b.length) {
      if (this.done) throw new ZbError('corrupt stream: data after the end frame');
      if (this.rem > 0) {
        const n = Math.min(this.rem, b.length - i);
        if (out) out.push(b.subarray(i, i + n));
        this.rem -= n; this.payload += n; i += n;
        continue;
      }
      const n = Math.min(this.want - this.hlen, b.length - i);
      b.copy(this.hdr, this.hlen, i, i + n);
      this.hlen += n; i += n;
      if (this.hlen < this.want) break;
      this.hlen = 0;
      if (!this.inEnd) {
        const len = this.hdr.readUInt32BE(0);
        if (len === 0) { this.inEnd = true; this.want = 8; }
        else if (len > MAX_FRAME) throw new ZbError(`corrupt stream: frame of ${len} bytes`);
        else this.rem = len;
      } else {
        const total = Number(this.hdr.readBigUInt64BE(0));
        if (total !== this.payload)
          throw new ZbError(`corrupt stream: end frame says ${total} bytes, ${this.payload} arrived`);
        this.done = true;
      }
    }
  }
}

export interface OpenOptions {
  /** Accept input that is not a zb stream: 'zfs' only a zfs send stream, 'any' anything. */
  plain?: false | 'zfs' | 'any';
  sync?: boolean;          // blocking reads (FdReader)
  fresh?: boolean;         // views that stay valid (FdReader)
}

/** Reads a zb stream (or plain input where allowed) from an fd. */
export class ZbReader {
  private constructor(public r: FdReader, public meta: Meta, public plain: boolean, public headerBytes: Buffer) {}

  /** The next n bytes of the payload (plain input: of the input), without consuming them. */
  peek(n: number): Promise<Buffer> { return this.r.peek(n); }

  static async open(fd: number, opts: OpenOptions = {}): Promise<ZbReader> {
    const r = new FdReader(fd, undefined, opts.sync, opts.fresh);
    const head = await r.peek(16);
    if (head.length === 0) throw new EmptyInputError();
    if (head.length >= 8 && head.subarray(0, 8).equals(MAGIC)) {
      if (head.length < 16) throw new CutStreamError('input ended inside the header');
      const version = head.readUInt32BE(8), len = head.readUInt32BE(12);
      if (version !== VERSION) throw new ZbError(`unsupported zb stream version ${version} (this is ${VERSION})`);
      if (len > MAX_HEADER) throw new ZbError(`corrupt stream: header of ${len} bytes`);
      const all = await r.take(16 + len);
      if (!all) throw new CutStreamError('input ended inside the header');
      let meta: Meta;
      try { meta = JSON.parse(all.subarray(16).toString('utf8')); }
      catch { throw new ZbError('corrupt stream: header metadata is not valid JSON'); }
      if (!Array.isArray(meta.filters)) meta.filters = [];
      return new ZbReader(r, meta, false, Buffer.from(all));
    }
    const zfs = isZfsStream(Buffer.from(head));
    if (opts.plain === 'any' || (opts.plain === 'zfs' && zfs))
      return new ZbReader(r, newMeta({ plain: true }), true, Buffer.alloc(0));
    throw new ZbError(zfs ? 'input is a plain zfs send stream; this stage needs a zb stream'
      : 'input is not a zb stream' + (opts.plain === 'zfs' ? ' nor a zfs send stream' : ''));
  }

  /** The payload, in views valid until the next iteration (for good, when opened fresh).
   *  Throws on a cut or corrupt stream. */
  async *payload(): AsyncGenerator<Buffer> {
    if (this.plain) {
      for (let b = await this.r.some(); b.length; b = await this.r.some()) yield b;
      return;
    }
    const sc = new FrameScanner();
    const parts: Buffer[] = [];
    while (!sc.done) {
      const b = await this.r.some();
      if (b.length === 0) throw new CutStreamError();
      parts.length = 0;
      sc.feed(b, parts);
      for (const p of parts) yield p;
    }
    if ((await this.r.some(1)).length) throw new ZbError('corrupt stream: data after the end frame');
  }

  /** The raw wire bytes after the header (for stages that pass frames through unchanged). */
  async *wire(scanner: FrameScanner): AsyncGenerator<Buffer> {
    while (!scanner.done) {
      const b = await this.r.some();
      if (b.length === 0) throw new CutStreamError();
      scanner.feed(b);
      yield b;
    }
    if ((await this.r.some(1)).length) throw new ZbError('corrupt stream: data after the end frame');
  }
}

/** Writes a zb stream to an fd, or only the payload when raw; with blocking writes when
 *  sync (a stage whose data loop is synchronous). */
export class ZbWriter {
  private total = 0;
  private started = false;
  constructor(public fd: number, public meta: Meta, public raw = false, public sync = false) {}

  private put(bufs: Buffer[]): Promise<void> | void {
    return this.sync ? writeAll(this.fd, bufs) : writeFd(this.fd, bufs);
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    if (!this.raw) await this.put([encodeHeader(this.meta)]);
  }

  async write(b: Buffer): Promise<void> {
    if (!this.started) await this.start();
    if (b.length === 0) return;
    if (this.raw) { await this.put([b]); this.total += b.length; return; }
    const bufs: Buffer[] = [];
    for (let i = 0; i < b.length; i += MAX_FRAME) {
      const part = b.subarray(i, i + MAX_FRAME);
      const len = Buffer.allocUnsafe(4);
      len.writeUInt32BE(part.length);
      bufs.push(len, part);
    }
    await this.put(bufs);
    this.total += b.length;
  }

  async end(): Promise<number> {
    if (!this.started) await this.start();
    if (!this.raw) {
      await this.put([encodeEnd(this.total)]);
    }
    return this.total;
  }
}
