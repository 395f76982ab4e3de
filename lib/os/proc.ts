// Child processes on the data path: argv only (never a shell), stderr tail kept
// for the error message, exit status and signal turned into one ZbError.
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { accessSync, openSync, closeSync, mkdtempSync, readFileSync, rmSync, constants as C } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ZbError } from '../errors.js';
import { signalStatus } from '../cli/command.js';

const TAIL = 4096;

export interface Child { proc: ChildProcess; done: Promise<void>; tail: () => string }

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  /** enlarge the child's stdin and stdout (when pipes), and ours, to PIPE_SIZE: see growing() */
  grow?: boolean;
}

/** Spawn argv[0] with argv[1..]; `done` rejects with the command and its stderr tail on failure. */
export function start(argv: string[], stdio: StdioOptions = ['pipe', 'pipe', 'pipe'], o: StartOptions = {}): Child {
  const [file, args, io] = o.grow ? growing(argv, stdio) : [argv[0], argv.slice(1), stdio];
  const proc = spawn(file, args, { stdio: io, env: o.env ?? process.env });
  let tail = '';
  proc.stderr?.on('data', (d: Buffer) => { tail = (tail + d.toString('utf8')).slice(-TAIL); });
  const done = new Promise<void>((resolve, reject) => {
    proc.on('error', (e: any) => reject(new ZbError(e.code === 'ENOENT'
      ? `'${argv[0]}' not found: is it installed and on PATH?` : `cannot run '${argv[0]}': ${e.message}`)));
    proc.on('close', (code, sig) => {
      if (code === 0) return resolve();
      const what = sig ? `was killed by ${sig}` : `failed with exit code ${code}`;
      const t = tail.trim().split('\n').slice(-3).join('; ');
      reject(new ZbError(`'${argv.join(' ')}' ${what}${t ? ': ' + t : ''}`, sig ? signalStatus(sig) : 1));
    });
  });
  done.catch(() => {});
  return { proc, done, tail: () => tail };
}

/** An absolute path to the program, or null when it cannot be found or run. */
export function which(name: string): string | null {
  const dirs = name.includes('/') ? [''] : (process.env.PATH ?? '').split(':').filter(Boolean);
  for (const d of dirs) {
    const p = d ? join(d, name) : name;
    try { accessSync(p, C.X_OK); return p; } catch { /* next */ }
  }
  return null;
}

/** A new directory of our own under TMPDIR (the caller removes it); one line when there is none. */
export function privateDir(prefix: string): string {
  try { return mkdtempSync(join(tmpdir(), prefix)); }
  catch (e: any) { throw new ZbError(`cannot make a directory in ${tmpdir()} (TMPDIR): ${e.code === 'ENOENT' ? 'no such directory' : e.message}`); }
}

/** Pipe capacity asked for on Linux (F_SETPIPE_SZ); the default 64 KiB costs a pair of
 *  context switches per 64 KiB, a third of the throughput of `cat | zstd -1 -T0 | cat`. */
export const PIPE_SIZE = 1 << 20;

/**
 * n pipes as [read, write] fds, both ends blocking (Node's own child pipes are non-blocking
 * sockets driven by the event loop): FIFOs made in a private directory, opened, and removed.
 * With `enlarge`, each is enlarged to PIPE_SIZE (see grow()); a caller that hands them to a
 * child started with { grow: true } leaves that to the child, which costs no extra process.
 */
export function pipes(n: number, enlarge = true): [number, number][] {
  if (n === 0) return [];
  const dir = privateDir('zb-pipe-');
  try {
    const names = Array.from({ length: n }, (_, i) => join(dir, `p${i}`));
    const mk = spawnSync('mkfifo', ['-m', '600', ...names], { stdio: ['ignore', 'ignore', 'pipe'] });
    if (mk.status !== 0) throw new ZbError(`cannot make a pipe in ${tmpdir()}: ${mk.error?.message ?? mk.stderr.toString().trim()}`);
    const pairs = names.map((p): [number, number] => {
      const nb = openSync(p, C.O_RDONLY | C.O_NONBLOCK);  // a reader, so opening the writer does not wait
      const w = openSync(p, C.O_WRONLY);
      const r = openSync(p, C.O_RDONLY);                 // blocking, and at once: there is a writer
      closeSync(nb);
      return [r, w];
    });
    if (enlarge) grow(names);
    return pairs;
  } finally { rmSync(dir, { recursive: true, force: true }); }
}

/**
 * Enlarge pipes to PIPE_SIZE (Linux, F_SETPIPE_SZ = 1031, through perl: Node has no
 * fcntl): the FIFOs at `paths` (held open by us: the pipe outlives perl's open).
 * Best effort: no perl, another OS, or the user's pipe quota reached leave the default.
 */
export function grow(paths: string[]): void {
  if (!perl() || !paths.length) return;
  spawnSync(perl()!, ['-e', `for (@ARGV) { open(my $f, "+<", $_) or next; fcntl($f, 1031, ${PIPE_SIZE}) }`, ...paths],
    { stdio: 'ignore' });
}

/**
 * Enlarge our stdin and stdout when they are pipes, which helps our neighbours in a shell
 * pipeline too. perl runs beside us, so the data need not wait for it; await the promise
 * at the end (it is settled by then), so that a stream never outlives the enlarging.
 */
export function growStdio(): Promise<void> {
  if (!perl()) return Promise.resolve();
  const c = spawn(perl()!, ['-e', GROW_STD], { stdio: [0, 1, 'ignore'] });
  return new Promise((resolve) => { c.on('error', () => resolve()); c.on('close', () => resolve()); });
}

export const GROW_STD = `for (*STDIN, *STDOUT) { fcntl($_, 1031, ${PIPE_SIZE}) if -p $_ }`;

/**
 * argv run through perl, which enlarges the child's stdin and stdout (when they are pipes)
 * and ours (handed to it as fds 3 and 4, closed before the exec), makes it die with us
 * (dieWithUs) and then execs argv: the same pid, status and signals, and one process start
 * instead of a perl run we would wait for. Unchanged without perl, off Linux, or when
 * argv[0] is not found (spawn says so).
 */
function growing(argv: string[], stdio: StdioOptions): [string, string[], StdioOptions] {
  if (!perl() || !Array.isArray(stdio) || stdio.length !== 3 || !which(argv[0])) return [argv[0], argv.slice(1), stdio];
  const script = `${GROW_STD} for ([3, "<&="], [4, ">&="]) { open(my $f, $$_[1], $$_[0]) or next; ` +
    `fcntl($f, 1031, ${PIPE_SIZE}) if -p $f; close $f } ${dieWithUs()} exec { $ARGV[0] } @ARGV; print STDERR "$ARGV[0]: $!\\n"; exit 127`;
  return [perl()!, ['-e', script, '--', ...argv], [...stdio, 0, 1]];
}

/** prctl(2) by syscall number, for perl (which has no binding for it). */
const PRCTL: Record<string, number> = { x64: 157, arm64: 167 };

/**
 * Perl that asks the kernel to send its process SIGTERM when we die (PR_SET_PDEATHSIG,
 * which survives exec): a stage killed by any signal, SIGKILL too, takes its zfs send,
 * zfs receive or compressor with it, at once, instead of leaving it to find a closed pipe.
 * If we died before the prctl, it stops itself. Empty where the syscall number is unknown.
 */
export function dieWithUs(): string {
  const nr = PRCTL[process.arch];
  return nr ? `syscall(${nr}, 1, 15); kill('TERM', $$) if getppid() != ${process.pid};` : '';
}

/**
 * argv run through perl that makes it die with us (dieWithUs) and execs it: the same pid,
 * status and signals. For the wrapper's stages: a wrapper killed by SIGKILL (timeout -s
 * KILL) takes its stages along, which then commit nothing, instead of leaving them to run
 * unsupervised. Unchanged without perl, off Linux, or when argv[0] is not found.
 */
export function supervised(argv: string[]): string[] {
  if (!perl() || !dieWithUs() || !which(argv[0])) return argv;
  return [perl()!, '-e', `${dieWithUs()} exec { $ARGV[0] } @ARGV; print STDERR "$ARGV[0]: $!\\n"; exit 127`, '--', ...argv];
}

let perlPath: string | null | undefined;
/** perl, on Linux (F_SETPIPE_SZ is Linux's), or null. */
export function perl(): string | null {
  if (perlPath === undefined) perlPath = process.platform === 'linux' ? which('perl') : null;
  return perlPath;
}

/** Whether a process of this host is still running (a zombie, dead but not yet reaped by
 *  its parent, answers kill 0 too: it counts as dead). */
export function alive(pid: number): boolean {
  try { process.kill(pid, 0); } catch (e: any) { return e.code === 'EPERM'; }
  try { return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return true; }
}
