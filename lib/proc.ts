// Child processes on the data path: argv only (never a shell), stderr tail kept
// for the error message, exit status and signal turned into one ZbError.
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { openSync, closeSync, mkdtempSync, rmSync, constants as C } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ZbError, signalStatus } from './cli.js';

const TAIL = 4096;

export interface Child { proc: ChildProcess; done: Promise<void>; tail: () => string }

/** Spawn argv[0] with argv[1..]; `done` rejects with the command and its stderr tail on failure. */
export function start(argv: string[], stdio: StdioOptions = ['pipe', 'pipe', 'pipe'],
  env?: NodeJS.ProcessEnv): Child {
  const proc = spawn(argv[0], argv.slice(1), { stdio, env: env ?? process.env });
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
 * On Linux each is enlarged to PIPE_SIZE by perl (Debian's perl-base is essential) when it
 * is there, since Node has no fcntl(); without it, or past the user's pipe quota, the pipes
 * keep the default size. With stdio, our own stdin and stdout too (see grow()).
 */
export function pipes(n: number, stdio = false): [number, number][] {
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
    grow(names, stdio);
    return pairs;
  } finally { rmSync(dir, { recursive: true, force: true }); }
}

/**
 * Enlarge pipes to PIPE_SIZE (Linux, F_SETPIPE_SZ = 1031, through perl: Node has no
 * fcntl): the FIFOs at `paths` (held open by us: the pipe outlives perl's open) and, when
 * they are pipes, our stdin and stdout, which helps our neighbours in a shell pipeline too.
 * Best effort: no perl, another OS, or the user's pipe quota reached leave the default.
 */
export function grow(paths: string[] = [], stdio = false): void {
  if (process.platform !== 'linux') return;
  const std = stdio ? `for (*STDIN, *STDOUT) { fcntl($_, 1031, ${PIPE_SIZE}) if -p $_ }` : '';
  spawnSync('perl', ['-e', `${std} for (@ARGV) { open(my $f, "+<", $_) or next; fcntl($f, 1031, ${PIPE_SIZE}) }`, ...paths],
    { stdio: [stdio ? 0 : 'ignore', stdio ? 1 : 'ignore', 'ignore'] });
}
