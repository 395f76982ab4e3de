// Child processes on the data path: argv only (never a shell), stderr tail kept
// for the error message, exit status and signal turned into one ZbError.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
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

/** Write a buffer to a child's stdin and wait until it is handed to the kernel (the buffer may be reused after). */
export function writeChild(proc: ChildProcess, b: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    proc.stdin!.write(b, (e) => e ? reject(e) : resolve());
  });
}
