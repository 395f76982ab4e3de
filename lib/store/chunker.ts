// The payload of a stream cut into the chunks of a store's run, each with its sha256.
import { createHash, type Hash } from 'node:crypto';
import { BUF } from '../os/io.js';
import type { ChunkRef } from './map.js';
import type { ChunkSink, StoreRun } from './store.js';

/** Cuts the payload into chunks of a run: input pieces (often 64 KiB frames) gathered into
 *  BUF writes; one write in flight while the next buffer is hashed and filled. */
export class Chunker {
  chunks: ChunkRef[] = [];
  total = 0;
  private sink?: ChunkSink;
  private hash?: Hash;
  private size = 0;          // bytes of the open chunk handed to write
  private bufs = [Buffer.allocUnsafe(BUF), Buffer.allocUnsafe(BUF)];
  private cur = 0;
  private fill = 0;
  private pending: Promise<void> = Promise.resolve();
  constructor(private run: StoreRun, private stem: string, private chunkSize: number) {}
  private name(i: number) { return `${this.stem}.${String(i).padStart(3, '0')}`; }

  async write(b: Buffer): Promise<void> {
    while (b.length) {
      const n = Math.min(b.length, BUF - this.fill, this.chunkSize - this.size - this.fill);
      b.copy(this.bufs[this.cur], this.fill, 0, n);
      this.fill += n; b = b.subarray(n);
      if (this.fill === BUF || this.size + this.fill === this.chunkSize) await this.flush();
    }
  }
  private async flush(): Promise<void> {
    if (!this.fill) return;
    const buf = this.bufs[this.cur].subarray(0, this.fill);
    await this.pending;                       // in order, and the other buffer is free again
    if (!this.sink) {
      this.sink = await this.run.create(this.name(this.chunks.length));
      this.hash = createHash('sha256'); this.size = 0;
    }
    this.pending = this.sink.write(buf);
    this.pending.catch(() => {});
    this.hash!.update(buf);
    this.size += this.fill; this.total += this.fill; this.fill = 0; this.cur ^= 1;
    if (this.size === this.chunkSize) await this.close();
  }
  private async close(): Promise<void> {
    await this.pending;
    await this.sink!.close();
    this.sink = undefined;
    this.chunks.push({ name: this.name(this.chunks.length), size: this.size, sha256: this.hash!.digest('hex') });
    this.size = 0;
  }
  /** Every chunk written and durable. */
  async finish(): Promise<void> {
    await this.flush();
    if (this.sink) await this.close();
  }
  /** Wait for the write in flight (before the run is aborted). */
  settle(): Promise<void> { return this.pending.catch(() => {}); }
}

