// Progress reporting for a stage whose main thread is busy in blocking I/O: a
// worker thread reads a shared byte counter every interval and writes the progress
// line (stderr, `\r`) and NDJSON events itself with writeSync, so it keeps ticking
// while the data loop waits on a pipe. The worker runs the source of `ticker`
// (eval: no file to resolve, works when bundled), so ticker uses nothing outside itself.
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';

export interface ProgressOptions {
  name?: string;
  size?: number | null;   // the header's size estimate: percent and ETA
  interval: number;       // seconds between updates
  line: boolean;          // the human line on stderr
  jsonFd?: number;        // NDJSON events to this fd
}

export class Progress {
  private counter = new BigInt64Array(new SharedArrayBuffer(8));
  private worker: Worker;

  constructor(o: ProgressOptions) {
    // stdout/stderr: true, or Node pipes the worker's stdio into process.stdout, whose
    // creation turns fd 1 non-blocking under the data loop's writeSync
    this.worker = new Worker(`(${ticker})()`, { eval: true, stdout: true, stderr: true, workerData: { ...o, counter: this.counter, t0: Date.now() } });
  }

  set(bytes: number): void { Atomics.store(this.counter, 0, BigInt(bytes)); }

  /** Last line and the final event: 'done' on success, else 'error' with the message. */
  async finish(bytes: number, error?: string): Promise<void> {
    this.set(bytes);
    const exited = once(this.worker, 'exit');
    this.worker.postMessage({ error });
    await exited;
  }
}

function ticker(): void {
  const { workerData: d, parentPort } = require('node:worker_threads');
  const { writeSync } = require('node:fs');
  const now = () => (Date.now() - d.t0) / 1000;
  const bytes = () => Number(Atomics.load(d.counter, 0));
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  const size = (n: number) => { let i = 0; while (n >= 1024 && i < 5) { n /= 1024; i++; } return `${n.toFixed(i ? 2 : 0)} ${units[i]}`; };
  const hms = (s: number) => { s = Math.round(s); const p = (x: number) => String(x).padStart(2, '0'); return `${Math.floor(s / 3600)}:${p(Math.floor(s / 60) % 60)}:${p(s % 60)}`; };
  const percent = (n: number) => d.size ? Math.min(100, Math.round(n / d.size * 1000) / 10) : null;
  const put = (fd: number, s: string) => { try { writeSync(fd, s); } catch { /* progress is best effort */ } };
  let lastT = 0, lastB = 0, width = 0;

  const report = (final: boolean) => {
    const t = now(), n = bytes();
    const rate = final ? (t > 0 ? n / t : 0) : (t > lastT ? (n - lastB) / (t - lastT) : 0);
    const avg = t > 0 ? n / t : 0, pc = percent(n);
    lastT = t; lastB = n;
    if (d.line) {
      let s = `${d.name ? d.name + ': ' : ''}${size(n)}  ${hms(t)}  ${size(rate)}/s`;
      if (pc !== null) s += `  ${pc.toFixed(1)}%` + (!final && avg > 0 && n < d.size ? `  ETA ${hms((d.size - n) / avg)}` : '');
      put(2, '\r' + s.padEnd(width) + (final ? '\n' : ''));
      width = s.length;
    }
    if (d.jsonFd !== undefined)
      put(d.jsonFd, JSON.stringify({ event: 'progress', name: d.name ?? null, bytes: n, rate: Math.round(rate), size: d.size ?? null, percent: pc }) + '\n');
  };

  const timer = setInterval(() => report(false), d.interval * 1000);
  parentPort.once('message', (m: { error?: string }) => {
    clearInterval(timer);
    report(true);
    const base = { name: d.name ?? null, bytes: bytes() };
    if (d.jsonFd !== undefined)
      put(d.jsonFd, JSON.stringify(m.error === undefined ? { event: 'done', ...base, seconds: now() }
        : { event: 'error', ...base, message: m.error }) + '\n');
    parentPort.close();
  });
}
