// Where zfs runs: a ZfsHost runs a zfs argv on one host and owns that host's zfs program
// and capabilities. LocalZfs is this machine's; the ssh issue adds a remote one. The
// queries, zb-send, zb-recv, zb-list and the backup classes take a host; what an argv
// says is commands.ts's business, never the host's.
import { execFile } from 'node:child_process';
import { hostname } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { start, which, type Child } from '../os/proc.js';
import { probeCaps, ZfsError, type Caps } from './commands.js';

/** What a zfs run left: its stdout and stderr as text, its exit code (errno: it did not run). */
export interface Captured { stdout: string; stderr: string; code: number; errno?: string }

/** Where a started zfs reads or writes: an fd (a pipe's end, or one of ours), nothing, or
 *  (a remote host, which has no fd of ours) 'pipe': a stream on the Running it returns. */
export type ZfsIo = number | 'ignore' | 'pipe';

/** A started zfs: its exit (rejects with the command and its stderr tail), and how to stop it. */
export interface Running {
  done: Promise<void>;
  tail: () => string;
  /** stop it now (SIGTERM, then SIGKILL; remote: the channel is closed) */
  stop(): void;
  /** with 'pipe': what it reads (zfs receive's stdin), what it writes (zfs send's stdout) */
  stdin?: Writable;
  stdout?: Readable;
}

export interface ZfsHost {
  /** the host, for messages */
  readonly name: string;
  /** the zfs program run there */
  readonly program: string;
  /** what its zfs supports (probed once per host, then cached on the host) */
  caps(): Promise<Caps>;
  /** Run zfs with argv, stdin closed, and collect its output. Rejects only when zfs cannot
   *  be run at all (not found); a zfs that fails resolves with its code and stderr. */
  run(args: string[]): Promise<Captured>;
  /** Start zfs with argv: stdin an fd it reads (zfs receive: the read end of a pipe we
   *  write to), stdout an fd it writes (zfs send: a pipe we read); its stderr is kept for
   *  the error, its exit awaited through `done`. A remote host takes 'pipe' only, and
   *  `through` (a filter the remote runs zfs's input through first, e.g. zstd -dc). */
  start(args: string[], stdio: [stdin: ZfsIo, stdout: ZfsIo], through?: string[]): Running | Promise<Running>;
  /** reached over a network: start() takes 'pipe', not fds (the data loop must not block) */
  readonly remote?: boolean;
  /** let go of what the host holds (a connection); it may be used again after */
  close?(): void;
}

/** Where systems install zfs; cron's PATH (/usr/bin:/bin on Debian) has none of them. */
const SBIN = ['/usr/sbin', '/sbin', '/usr/local/sbin'];

/** zfs on this machine. */
export class LocalZfs implements ZfsHost {
  readonly name = hostname();
  private found?: string;
  private probed?: Promise<Caps>;
  /** program: a zfs to run instead of $ZB_ZFS and the lookup */
  constructor(private readonly given?: string) {}

  /** The zfs program: the one given, else $ZB_ZFS, else zfs on PATH, else the first in SBIN
   *  (else 'zfs': not found). */
  get program(): string {
    return this.given ?? (process.env.ZB_ZFS ||
      (this.found ??= which('zfs') ?? SBIN.map((d) => `${d}/zfs`).find((p) => which(p)) ?? 'zfs'));
  }

  caps(): Promise<Caps> { return this.probed ??= probeCaps(this); }

  run(args: string[]): Promise<Captured> {
    return new Promise((resolve, reject) => {
      const c = execFile(this.program, args, { maxBuffer: 256 << 20, encoding: 'utf8' }, (e: any, stdout, stderr) => {
        if (e?.code === 'ENOENT') return reject(this.notFound());
        resolve({ stdout, stderr, code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, errno: typeof e?.code === 'string' ? e.code : undefined });
      });
      c.stdin?.end();
    });
  }

  /** Through perl where it can (proc.ts): 1 MiB pipes, and the zfs dies with us. */
  start(args: string[], [stdin, stdout]: [ZfsIo, ZfsIo]): Child & Running {
    const c = start([this.program, ...args], [stdin, stdout, 'pipe'], { grow: true });
    return { ...c, stdin: c.proc.stdin ?? undefined, stdout: c.proc.stdout ?? undefined, stop: () => {
      c.proc.kill('SIGTERM');
      setTimeout(() => { if (c.proc.exitCode === null && !c.proc.signalCode) c.proc.kill('SIGKILL'); }, 2000).unref();
    } };
  }

  private notFound(): ZfsError {
    const p = this.given ?? process.env.ZB_ZFS;
    return new ZfsError(p ? `'${p}'${this.given ? '' : ' (ZB_ZFS)'} not found`
      : `'zfs' not found on PATH or in ${SBIN.join(', ')}: install ZFS (zfsutils-linux, zfs-fuse) or set ZB_ZFS`);
  }
}

let local: LocalZfs | undefined;
/** This machine's zfs: one host object per process, so one lookup and one probe. */
export const localZfs = (): LocalZfs => local ??= new LocalZfs();
