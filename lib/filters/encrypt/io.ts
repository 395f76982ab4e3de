// Plumbing for zb-encrypt: a pull reader for the age / openssl headers at the start of
// the payload, and memory tuning. (The payload is read with blocking reads: ZbReader sync.)
import { scryptSync } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// Node's cipher.update() returns a fresh buffer per call (per 64 KiB age chunk). Left to
// V8, these pile up to ~64 MiB before a collection, and glibc hands the freed heap back to the kernel at once
// (trim threshold 128 KiB), so every new buffer page-faults: a fifth of the CPU time.
// Two remedies: a young-generation collection every 2 MiB of output, and a larger trim
// threshold (glibc raises it to twice the size of a freed mmap()ed block: OpenSSL's scrypt
// with N = 2^12 mallocs and frees one of 4 MiB). Both are harmless where they do not apply.
let minorGc: (() => void) | null | undefined;
function tuneMemory(): void {
  if (minorGc !== undefined) return;
  scryptSync('', '', 16, { N: 1 << 12, r: 8, p: 1 });
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc');
    minorGc = typeof gc === 'function' ? () => gc({ type: 'minor' }) : null;
  } catch { minorGc = null; }
}

/** Counts bytes produced by cipher.update() and collects the young generation every 2 MiB. */
export class GcTicker {
  private since = 0;
  constructor(private every = 2 << 20) {}
  tick(n: number): void {
    if ((this.since += n) < this.every) return;
    this.since = 0;
    tuneMemory();  // only for streams that need it: it costs a few ms
    minorGc?.();
  }
}

/** Consumes an async iterator of views, for reading a format's header; then hands on the rest. */
export class Pull {
  private buf = Buffer.alloc(0);
  private done = false;
  constructor(private it: AsyncIterator<Buffer>) {}
  async fill(n: number): Promise<boolean> {
    while (this.buf.length < n && !this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true; else this.buf = Buffer.concat([this.buf, r.value]);
    }
    return this.buf.length >= n;
  }
  async peek(n: number): Promise<Buffer> {
    await this.fill(n);
    return this.buf.subarray(0, n);
  }
  async take(n: number): Promise<Buffer | null> {
    if (!await this.fill(n)) return null;
    const b = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return b;
  }
  /** One line without its LF; null at EOF or when longer than max. */
  async line(max: number): Promise<string | null> {
    for (;;) {
      const i = this.buf.indexOf(10);
      if (i >= 0 && i <= max) return (await this.take(i + 1))!.subarray(0, i).toString('latin1');
      if (i >= 0 || this.buf.length > max || !await this.fill(this.buf.length + 1)) return null;
    }
  }
  async *rest(): AsyncGenerator<Buffer> {
    if (this.buf.length) yield this.buf;
    for (let r = await this.it.next(); !r.done; r = await this.it.next()) yield r.value;
  }
}
