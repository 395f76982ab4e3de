// zfs on another host, over ssh (ssh2, one connection per host object, a channel per
// command): the second ZfsHost. Its zfs is looked for where the local lookup looks (the
// remote PATH, then /usr/sbin, /sbin, /usr/local/sbin), its capabilities probed on their own.
// Every command line is built by ssh.ts's quoting; the remote exit status is the command's.
// The lookup runs the zfs it finds without operands too: its usage is what the capability
// probe reads, so the two cost one channel (a round trip, ~0.2 s on a loaded host) instead of
// two; a stream that needs neither first (start()) runs FIND in its own command line.
import type ssh2 from 'ssh2';
import { ZbError } from '../errors.js';
import { connect, type Resolved, type SshOptions } from '../ssh/connect.js';
import { GROW_STD } from '../os/proc.js';
import { probeCaps, ZfsError, type Caps } from './commands.js';
import type { Captured, Running, ZfsHost, ZfsIo } from './host.js';
import { shellLine as commandLine, shellQuote as quote } from '../os/shell.js';

const TAIL = 4096;
// before a bulk stream: sshd's pipes to the remote command enlarged to 1 MiB, as ours are
// (Linux; perl's fcntl F_SETPIPE_SZ): its 64 KiB ones cost 5 to 10% of the throughput into
// zfs-fuse (bench/ssh.bench.sh). Without perl, or elsewhere, nothing happens.
const GROW = `perl -e ${quote(GROW_STD)} 2>/dev/null;`;
const SBIN = ['/usr/sbin', '/sbin', '/usr/local/sbin'];
const NOT_FOUND = 'zb-lookup: no zfs';
// sets z to the zfs found, or says NOT_FOUND and exits 127
const FIND = `z=; for p in "$(command -v zfs 2>/dev/null)" ${SBIN.map(d => `${d}/zfs`).join(' ')}; do if [ -n "$p" ] && [ -x "$p" ]; then z=$p; break; fi; done; ` +
  `if [ -z "$z" ]; then echo ${NOT_FOUND} >&2; exit 127; fi;`;
// prints "STATUS PATH" (zfs's exit status without operands, the zfs found), then its usage
const LOOKUP = `${FIND} u=$("$z" 2>&1); echo "$? $z"; printf '%s\\n' "$u"`;

export class SshZfs implements ZfsHost {
  readonly remote = true;
  private conn?: Promise<{ client: ssh2.Client; r: Resolved }>;
  private found?: Promise<string>;
  private path?: string;
  private usage?: Captured;
  private probed?: Promise<Caps>;
  private lost?: Error;
  constructor(readonly ssh: SshOptions) {}

  get name(): string { return this.ssh.host; }
  get program(): string { return this.path ?? 'zfs'; }

  private client(): Promise<ssh2.Client> {
    this.conn ??= connect(this.ssh).then((c) => {
      c.client.on('error', (e: any) => { this.lost = new ZbError(`connection to '${this.name}' lost: ${/keepalive/i.test(e.message) ? `no answer for ${c.r.aliveInterval * c.r.aliveCount} s` : e.message}`); });
      c.client.on('close', () => { this.lost ??= new ZbError(`connection to '${this.name}' lost`); this.conn = undefined; });
      return c;
    });
    return this.conn.then(c => c.client);
  }

  /** Connect and log in now (later commands then start at once). */
  async connect(): Promise<void> { await this.client(); }

  close(): void { void this.conn?.then(c => c.client.end(), () => {}); this.conn = undefined; }

  /** Run a command line there: a channel whose stderr tail and exit status `done` reports. */
  async exec(cmd: string, label: string): Promise<Running & { stdin: ssh2.ClientChannel; stdout: ssh2.ClientChannel }> {
    const client = await this.client();
    this.lost = undefined;
    let tail = '', code: number | null = null, signal: string | undefined;
    const ch = await new Promise<ssh2.ClientChannel>((res, rej) => client.exec(cmd, (e, ch) => {
      if (e) return rej(new ZbError(`cannot run a command on '${this.name}': ${e.message}`));
      // at once, not after an await: a quick command's exit status can come in the same read
      // as the channel's confirmation, and an 'exit' nobody heard made a done command "lost"
      ch.stderr.on('data', (d: Buffer) => { tail = (tail + d.toString('utf8')).slice(-TAIL); });
      ch.on('exit', (c: number | null, s?: string) => { code = c; signal = s; });
      res(ch);
    }));
    const done = new Promise<void>((resolve, reject) => {
      const gone = () => reject(this.lost ?? new ZbError(`connection to '${this.name}' lost`));
      client.once('close', gone);
      ch.on('close', () => {
        client.off('close', gone);
        if (code === 0) return resolve();
        const t = tail.trim().split('\n').slice(-3).join('; ');
        if (code === null && !signal) return gone();
        reject(new ZbError(`'${label}' on '${this.name}' ${signal ? `was killed by SIG${signal}` : `failed with exit code ${code}`}${t ? ': ' + t : ''}`, code ?? 1));
      });
    });
    done.catch(() => {});
    const stop = () => { try { ch.signal('KILL'); } catch { /* gone */ } ch.destroy(); };
    return { done, tail: () => tail, stop, stdin: ch, stdout: ch };
  }

  /** The remote zfs program (looked up once; its usage kept for run([])). */
  zfs(): Promise<string> {
    return this.found ??= this.capture(LOOKUP, 'zfs lookup').then((r) => {
      const m = /^(\d+) (.+)\n/.exec(r.stdout);
      if (r.code !== 0 || !m) throw this.notFound();
      this.usage = { stdout: r.stdout.slice(m[0].length), stderr: '', code: Number(m[1]) };
      return this.path = m[2];
    });
  }

  /** Whether a program is on the remote PATH (a decompressor). */
  async has(program: string): Promise<boolean> {
    return (await this.capture(`command -v ${quote(program)} >/dev/null 2>&1`, program)).code === 0;
  }

  caps(): Promise<Caps> { return this.probed ??= probeCaps(this); }

  async run(args: string[]): Promise<Captured> {
    const zfs = await this.zfs();
    if (!args.length && this.usage) return this.usage;   // zfs alone: the lookup ran it
    return this.capture(commandLine([zfs, ...args]), `zfs ${args.join(' ')}`);
  }

  private async capture(cmd: string, label: string): Promise<Captured> {
    const c = await this.exec(cmd, label);
    const out: Buffer[] = [];
    c.stdout.on('data', (d: Buffer) => out.push(d));
    c.stdin.end();
    let code = 0;
    await c.done.catch((e: ZbError) => { if (/exit code|killed/.test(e.message)) code = e.status ?? 1; else throw e; });
    return { stdout: Buffer.concat(out).toString('utf8'), stderr: c.tail(), code };
  }

  /** zfs there, reading c.stdin ('pipe', through `through` when given) or writing c.stdout
   *  ('pipe'). Where zfs is not looked up yet, the command looks for it itself: one channel
   *  (on a host whose shell reads a slow rc file, ~0.1 s) instead of two. */
  async start(args: string[], [stdin, stdout]: [ZfsIo, ZfsIo], through?: string[]): Promise<Running> {
    if ((stdin !== 'pipe' && stdin !== 'ignore') || (stdout !== 'pipe' && stdout !== 'ignore')) throw new ZbError('internal error: a remote zfs takes streams, not fds');
    const zfs = this.path ?? (this.found ? await this.zfs() : undefined);
    const line = zfs ? commandLine([zfs, ...args]) : `"$z" ${commandLine(args)}`;
    const c = await this.exec(`${GROW} ${zfs ? '' : FIND + ' '}${through ? `${commandLine(through)} | ${line}` : line}`, `${through ? through.join(' ') + ' | ' : ''}zfs ${args.join(' ')}`);
    if (!zfs) { c.done = c.done.catch((e) => { throw c.tail().includes(NOT_FOUND) ? this.notFound() : e; }); c.done.catch(() => {}); }
    if (stdin === 'ignore') c.stdin.end();
    if (stdout === 'ignore') c.stdout.resume();   // or 'close' never comes
    return c;
  }

  private notFound(): ZfsError {
    return new ZfsError(`'zfs' not found on '${this.name}' (on its PATH or in ${SBIN.join(', ')}): install ZFS there`);
  }
}
