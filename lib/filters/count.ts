// zb-count: pass the stream through byte for byte (framing kept) and count its
// payload, at most --limit-rate bytes a second. The copy loop is synchronous (blocking reads and writes, like cat): the async
// thread-pool round trip per 64 KiB pipe read costs half the throughput. Progress,
// when asked for, ticks in a worker thread (lib/cli/progress.ts).
import { openSync } from 'node:fs';
import { ZbError } from '../errors.js';
import { isatty } from 'node:tty';
import { ZbReader, FrameScanner } from '../stream/zb.js';
import { Progress } from '../cli/progress.js';
import { writeAll } from '../os/io.js';

export interface CountOptions {
  name?: string;
  progress?: boolean;   // the progress line even when stderr is not a terminal
  json?: string;        // NDJSON events to this file; '-' = stderr
  quiet?: boolean;
  interval: number;     // seconds
  limitRate?: number;   // bytes per second written, at most (averaged from the start)
}

const nap = new Int32Array(new SharedArrayBuffer(4));
/** Holds the copy loop back so that what was written stays within rate bytes/s since the
 *  first write (the loop blocks: it is synchronous, like the copy). */
class Limiter {
  private start = 0;
  private sent = 0;
  constructor(private rate: number) {}
  wrote(n: number): void {
    const now = performance.now();
    if (!this.start) this.start = now;
    this.sent += n;
    const wait = this.start + (this.sent / this.rate) * 1000 - now;
    if (wait > 1) Atomics.wait(nap, 0, 0, wait);
  }
}

export async function count(o: CountOptions): Promise<void> {
  const jsonFd = o.json === undefined ? undefined : o.json === '-' ? 2 : openJson(o.json);
  const r = await ZbReader.open(0, { plain: 'any', sync: true });
  // isatty, not io.ts isTTY: that says yes for any character device, /dev/null too
  const line = !!o.progress || (!o.quiet && jsonFd !== 2 && isatty(2));
  const p = line || jsonFd !== undefined
    ? new Progress({ name: o.name, size: r.meta.size ?? null, interval: o.interval, line, jsonFd }) : null;
  // a zb stream's wire bytes as they came (the scanner counts and checks them), or plain input
  const sc = r.plain ? null : new FrameScanner();
  const limit = o.limitRate ? new Limiter(o.limitRate) : null;
  let n = 0;
  try {
    writeAll(1, r.headerBytes);
    for await (const b of sc ? r.wire(sc) : r.payload()) {
      n = sc ? sc.payload : n + b.length;
      writeAll(1, b);
      limit?.wrote(b.length);
      p?.set(n);
    }
  } catch (e) {
    await p?.finish(n, (e as Error).message);
    throw e;
  }
  await p?.finish(n);
  if (!o.quiet && !o.progress && jsonFd === undefined)
    process.stderr.write(`${o.name ? o.name + ': ' : ''}${n} bytes\n`);
}

function openJson(path: string): number {
  try { return openSync(path, 'w'); }
  catch (e: any) { throw new ZbError(`cannot write '${path}': ${e.message}`); }
}
