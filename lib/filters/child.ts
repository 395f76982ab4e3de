// A filter child on the data path (a compressor, a command filter) with blocking I/O on both sides, the way
// `cat | zstd | cat` moves bytes: the main thread reads fd 0, unframes and writes the
// child's stdin; a drain reads the child's stdout, frames it and writes fd 1: perl (Linux,
// when installed: it starts in ~5 ms) or else a worker thread (50-110 ms to start).
// Node's 'pipe' stdio are non-blocking sockets owned by the event loop, which costs a
// thread-pool or event-loop round trip per 64 KiB; so the child gets real pipes (FIFOs
// made in a private directory and removed once open) and its stderr goes to a file.
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { openSync, closeSync, fstatSync, readSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ZbError } from '../errors.js';
import { start, pipes, privateDir, perl, dieWithUs } from '../os/proc.js';
import { encodeHeader, encodeEnd, type ZbReader, type Meta } from '../stream/zb.js';
import { BUF, writeAll, diskFull } from '../os/io.js';

/**
 * Run argv with the payload of `input` (null: empty) on its stdin. Its stdout goes to
 * fd 1 as it is (meta null: raw) or as a zb stream with meta's header. The end frame is
 * written only when the input was complete and the child and the output succeeded.
 */
export async function throughChild(argv: string[], input: ZbReader | null, meta: Meta | null, w: Drain | null): Promise<void> {
  if (meta && !w) throw new Error('throughChild: zb output needs a drain');
  const { pairs: [[inR, inW], out], err } = plumbing(meta ? 2 : 1);
  if (meta) writeAll(1, encodeHeader(meta));
  const c = start(argv, [inR, out ? out[1] : 1, err], { grow: true });   // its pipes and ours: 1 MiB
  closeSync(inR);
  if (out) closeSync(out[1]);
  const result = w && out ? w.run(out[0]) : Promise.resolve<Drained>({});
  let inputErr: unknown, feedErr: unknown;
  try { await feed(input, inW); }
  catch (e: any) {
    if (e.code === 'EPIPE') feedErr = e;           // the child stopped reading: it says why
    else { inputErr = e; c.proc.kill('SIGTERM'); }  // cut or corrupt input: no output may look complete
  }
  closeSync(inW);
  const res = await result;
  const childErr = await c.done.then(() => undefined, (e: ZbError) => childError(e, c.proc.signalCode, err));
  closeSync(err);
  if (inputErr) throw inputErr;
  if (res.message) throw new ZbError(res.code === 'EPIPE' ? 'broken pipe: the next stage stopped reading' : diskFull(res) ?? `write error: ${res.message}`);
  if (childErr) throw childErr;
  if (feedErr) throw new ZbError(`'${argv.join(' ')}' exited before reading all of its input`);
  if (out) writeAll(1, encodeEnd(res.total!));
}

/** What a drain did: the payload bytes it framed, or why it stopped. */
export interface Drained { total?: number; code?: string; errno?: number; message?: string }

/** Frames the child's output onto fd 1 (zb output only); run() owns the fd from then on. */
export interface Drain { run(fd: number): Promise<Drained>; end(): void }

/**
 * The drain, ended on every way out whatever f does: perl when it is there (started by
 * run(): it takes ~5 ms), else a worker thread, made here, before the input's header is
 * read, since its isolate takes 50-110 ms to start; it waits for its fd meanwhile.
 */
export async function withDrain<T>(need: boolean, f: (w: Drain | null) => Promise<T>): Promise<T> {
  const w = !need ? null : perl() ? perlDrain(perl()!) : workerDrain();
  try { return await f(w); }
  finally { w?.end(); }
}

function workerDrain(): Drain {
  const w = new Worker(`(${drain})()`, { eval: true, stdout: true, stderr: true, workerData: { size: BUF } });
  return {
    run(fd) { const r = once(w, 'message').then(([m]) => m as Drained); w.postMessage({ fd }); return r; },
    end() { void w.terminate(); },
  };
}

/**
 * perl reads the child's output in blocks of up to BUF into a buffer behind a 4-byte
 * slot, puts the length there and writes length and bytes with one write (zb-stream(5)
 * frames, no copy), then prints the total. Our stdout gone: SIGPIPE kills it; we gone
 * (killed): so is it (dieWithUs), or it would hold the next stage's pipe open.
 */
const FRAME = () => `${dieWithUs()} my ($n, $t, $b) = (0, 0, ''); for (;;) { my $r = sysread(STDIN, $b, ${BUF} - $n, 4 + $n); ` +
  `die "read " . ($!+0) . " $!\\n" unless defined $r; $n += $r; if ($n && ($n == ${BUF} || !$r)) { substr($b, 0, 4) = pack('N', $n); ` +
  `for (my $o = 0; $o < 4 + $n;) { my $w = syswrite(STDOUT, $b, 4 + $n - $o, $o); die "write " . ($!+0) . " $!\\n" unless defined $w; $o += $w } ` +
  `$t += $n; $n = 0 } last unless $r } print STDERR "total $t\\n"`;

function perlDrain(perlPath: string): Drain {
  let c: ReturnType<typeof start> | undefined;
  return {
    async run(fd) {
      c = start([perlPath, '-e', FRAME()], [fd, 1, 'pipe']);
      closeSync(fd);   // perl's alone: if it stops, a child still writing gets SIGPIPE
      try { await c.done; } catch {
        if (c.proc.signalCode === 'SIGPIPE') return { code: 'EPIPE', message: 'EPIPE' };
        const m = /^(?:read|write) (\d+) (.*)$/m.exec(c.tail());   // errno and text, from die
        return m ? { errno: -Number(m[1]), message: m[2] } : { message: c.tail().trim() || 'the framing perl failed' };
      }
      const m = /total (\d+)\s*$/.exec(c.tail());
      return m ? { total: Number(m[1]) } : { message: 'the framing perl gave no total' };
    },
    end() { if (c && c.proc.exitCode === null && !c.proc.signalCode) c.proc.kill('SIGTERM'); },
  };
}

/** The payload of r to fd, with blocking reads and writes. */
async function feed(r: ZbReader | null, fd: number): Promise<void> {
  if (!r) return;
  r.r.sync = true;
  for await (const b of r.payload()) writeAll(fd, b);
}

/** The child's failure with the tail of its stderr file; SIGPIPE is our reader gone. */
function childError(e: ZbError, sig: string | null, fd: number): ZbError {
  if (sig === 'SIGPIPE') return new ZbError('broken pipe: the next stage stopped reading');
  const size = fstatSync(fd).size, b = Buffer.alloc(Math.min(size, 4096));
  readSync(fd, b, 0, b.length, size - b.length);
  const tail = b.toString('utf8').trim().split('\n').slice(-3).join('; ');
  return new ZbError(tail ? `${e.message}: ${tail}` : e.message, e.status);
}

/** The child's pipes (enlarged by the child: start() with grow) and a file for its stderr. */
function plumbing(n: number): { pairs: [number, number][]; err: number } {
  const dir = privateDir('zb-compress-');
  try { return { pairs: pipes(n, false), err: openSync(join(dir, 'stderr'), 'w+') }; }
  finally { rmSync(dir, { recursive: true, force: true }); }
}

/**
 * Worker thread (its source runs by eval, so it uses nothing outside itself): read the
 * child's stdout in blocks of up to `size`, write each as one zb frame (u32be length +
 * bytes, zb-stream(5)) to fd 1, post the payload total or the error.
 */
function drain(): void {
  const { workerData: d, parentPort } = require('node:worker_threads');
  parentPort.once('message', ({ fd }: { fd: number }) => run(fd));
  function run(fd: number): void {
    const fs = require('node:fs');
    const nap = new Int32Array(new SharedArrayBuffer(4));
    const again = <T>(f: () => T): T => {
      for (;;) { try { return f(); } catch (e: any) { if (e.code !== 'EAGAIN') throw e; Atomics.wait(nap, 0, 0, 1); } }
    };
    const buf = Buffer.allocUnsafe(d.size), len = Buffer.alloc(4);
    let total = 0;
    try {
      for (let eof = false; !eof;) {
        let n = 0;
        while (n < buf.length) {
          const got = again(() => fs.readSync(fd, buf, n, buf.length - n, null));
          if (!got) { eof = true; break; }
          n += got;
        }
        if (!n) break;
        len.writeUInt32BE(n);
        let parts = [len, buf.subarray(0, n)];
        while (parts.length) {
          let w = again(() => fs.writevSync(1, parts));
          while (w > 0) {
            if (w >= parts[0].length) { w -= parts[0].length; parts = parts.slice(1); }
            else { parts[0] = parts[0].subarray(w); w = 0; }
          }
        }
        total += n;
      }
      parentPort.postMessage({ total });
    } catch (e: any) {
      parentPort.postMessage({ code: e.code, errno: e.errno, message: e.message });
    } finally {
      fs.closeSync(fd);   // a child still writing gets SIGPIPE and stops
    }
  }
}
