// The age v1 payload: STREAM over ChaCha20-Poly1305 in 64 KiB chunks, nonce =
// 11-byte big-endian counter || last-chunk flag. Chunks are batched (16 per output
// write) and output buffers alternate so that one batch is written while the next is
// sealed. Opening writes a batch only after every chunk in it authenticated.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ZbError } from '../../errors.js';
import { AEAD, hkdf } from './age-crypto.js';
import { GcTicker } from './io.js';

export const CHUNK = 64 << 10;
export const TAG = 16;
export const CT_CHUNK = CHUNK + TAG;
const BATCH = 16;
const OPTS = { authTagLength: TAG } as const;

export type Sink = (b: Buffer) => Promise<void>;

/** The payload's 16-byte nonce and the key derived from it. */
export function payloadKey(fileKey: Buffer, nonce = randomBytes(16)): { nonce: Buffer; key: Buffer } {
  return { nonce, key: hkdf(fileKey, nonce, 'payload') };
}

abstract class Stream {
  protected counter = 0;
  protected nonce = Buffer.alloc(12);
  private outs: Buffer[];
  private which = 0;
  private pending: Promise<void> = Promise.resolve();
  private gc = new GcTicker();
  constructor(protected key: Buffer, private sink: Sink, outSize: number) {
    this.outs = [Buffer.allocUnsafe(outSize), Buffer.allocUnsafe(outSize)];
  }
  protected setNonce(last: boolean): Buffer {
    const c = this.counter++;
    this.nonce.writeUInt32BE(Math.floor(c / 2 ** 32), 3);
    this.nonce.writeUInt32BE(c >>> 0, 7);
    this.nonce[11] = last ? 1 : 0;
    return this.nonce;
  }
  /** The next output buffer (free: its previous write finished before it was handed out). */
  protected out(): Buffer { return this.outs[this.which]; }
  /** Start writing out()[0, n) and wait for the write before it, leaving one in flight. */
  protected async emit(n: number): Promise<void> {
    const b = this.outs[this.which];
    this.which ^= 1;
    this.gc.tick(n);
    await this.pending;
    const p = n ? this.sink(b.subarray(0, n)) : Promise.resolve();
    p.catch(() => {});  // awaited by the next emit() or drain()
    this.pending = p;
  }
  protected drain(): Promise<void> { return this.pending; }
}

/** Encrypts: push plaintext of any size, then finish() seals the final chunk. */
export class AgeSealer extends Stream {
  private pt = Buffer.allocUnsafe(BATCH * CHUNK);
  private n = 0;
  constructor(key: Buffer, sink: Sink) { super(key, sink, BATCH * CT_CHUNK); }

  async push(b: Buffer): Promise<void> {
    for (let i = 0; i < b.length;) {
      if (this.n === this.pt.length) await this.flush(false);  // more follows: none of these is last
      const k = b.copy(this.pt, this.n, i);
      this.n += k; i += k;
    }
  }

  async finish(): Promise<void> { await this.flush(true); await this.drain(); }

  private async flush(last: boolean): Promise<void> {
    const out = this.out(), chunks = Math.max(1, Math.ceil(this.n / CHUNK));
    let o = 0;
    for (let c = 0; c < chunks; c++) {
      const cipher = createCipheriv(AEAD, this.key, this.setNonce(last && c === chunks - 1), OPTS);
      o += cipher.update(this.pt.subarray(c * CHUNK, Math.min(this.n, (c + 1) * CHUNK))).copy(out, o);
      cipher.final();
      o += cipher.getAuthTag().copy(out, o);
    }
    this.n = 0;
    await this.emit(o);
  }
}

/** Decrypts: push ciphertext of any size, then finish() opens the final chunk. */
export class AgeOpener extends Stream {
  private ct = Buffer.allocUnsafe((BATCH + 1) * CT_CHUNK);
  private n = 0;
  constructor(key: Buffer, sink: Sink) { super(key, sink, (BATCH + 1) * CHUNK); }

  async push(b: Buffer): Promise<void> {
    for (let i = 0; i < b.length;) {
      if (this.n === this.ct.length) {  // BATCH chunks with data after them: none is last
        await this.flush(BATCH, false);
        this.ct.copyWithin(0, BATCH * CT_CHUNK, this.n);
        this.n -= BATCH * CT_CHUNK;
      }
      const k = b.copy(this.ct, this.n, i);
      this.n += k; i += k;
    }
  }

  async finish(): Promise<void> {
    if (this.n === 0) throw new ZbError('the age payload is missing: the data was truncated');
    const chunks = Math.ceil(this.n / CT_CHUNK), lastLen = this.n - (chunks - 1) * CT_CHUNK;
    if (lastLen < TAG) {
      const off = (this.counter + chunks - 1) * CHUNK;
      throw new ZbError(`the age payload ends inside a chunk at byte offset ${off}: the data was truncated`);
    }
    if (lastLen === TAG && this.counter + chunks > 1)
      throw new ZbError('the age payload ends with an empty final chunk: the data is malformed');
    await this.flush(chunks, true);
    await this.drain();
  }

  private async flush(chunks: number, last: boolean): Promise<void> {
    const out = this.out();
    let o = 0;
    for (let c = 0; c < chunks; c++) {
      const end = Math.min(this.n, (c + 1) * CT_CHUNK);
      const isLast = last && c === chunks - 1;
      const pt = this.open(this.ct.subarray(c * CT_CHUNK, end), isLast);
      if (!pt) throw this.failure(this.ct.subarray(c * CT_CHUNK, end), isLast);
      o += pt.copy(out, o);
    }
    await this.emit(o);
  }

  private open(chunk: Buffer, last: boolean, nonce = this.setNonce(last)): Buffer | null {
    const d = createDecipheriv(AEAD, this.key, nonce, OPTS);
    d.setAuthTag(chunk.subarray(chunk.length - TAG));
    const pt = d.update(chunk.subarray(0, chunk.length - TAG));
    try { d.final(); } catch { return null; }
    return pt;
  }

  /** Say what went wrong with the chunk that failed (the counter is already past it). */
  private failure(chunk: Buffer, last: boolean): ZbError {
    const off = (this.counter - 1) * CHUNK, end = off + chunk.length - TAG, nonce = Buffer.from(this.nonce);
    nonce[11] = last ? 0 : 1;
    if (chunk.length >= TAG && this.open(chunk, !last, nonce)) {
      return new ZbError(last ? `the age payload ends without its final chunk (at byte offset ${end}): the data was truncated`
        : `data follows the final chunk of the age payload (at byte offset ${end}): the data was altered`);
    }
    return new ZbError(`authentication failed at byte offset ${off}: the data was altered or truncated`);
  }
}
