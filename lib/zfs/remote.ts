// zfs on another host, over ssh (ssh2, one connection per host object, a channel per
// command; the bulk streams over OpenSSH's ssh where it is installed): the second ZfsHost. Its zfs is looked for where the local lookup looks (the
// remote PATH, then /usr/sbin, /sbin, /usr/local/sbin), its capabilities probed on their own.
// Every command line is built by ssh.ts's quoting; the remote exit status is the command's.
// The lookup runs the zfs it finds without operands too: its usage is what the capability
// probe reads, so the two cost one channel (a round trip, ~0.2 s on a loaded host) instead of two.
import type ssh2 from 'ssh2';
import { ZbError } from '../errors.js';
import { GROW_STD, start, which } from '../os/proc.js';
import { connect, opensshArgs, type Resolved, type SshOptions } from '../ssh/connect.js';
import { probeCaps, ZfsError, type Caps } from './commands.js';
import type { Captured, Running, ZfsHost, ZfsIo } from './host.js';
import { shellLine as commandLine, shellQuote as quote } from '../os/shell.js';

const TAIL = 4096;
// before a bulk stream: sshd's pipes to the remote command enlarged to 1 MiB, as ours are
// (Linux; perl's fcntl F_SETPIPE_SZ): 64 KiB ones cost zfs-fuse's receive 10% of its
// throughput (bench/ssh.bench.sh). Without perl, or elsewhere, nothing happens.
const GROW = `perl -e ${quote(GROW_STD)} 2>/dev/null;`;
const SBIN = ['/usr/sbin', '/sbin', '/usr/local/sbin'];
// prints "STATUS PATH" (zfs's exit status without operands, the zfs found), then its usage
const LOOKUP = `for p in "$(command -v zfs 2>/dev/null)" ${SBIN.map(d => `${d}/zfs`).join(' ')}; do if [ -n "$p" ] && [ -x "$p" ]; then ` +
  `u=$("$p" 2>&1); echo "$? $p"; printf '%s\\n' "$u"; exit 0; fi; done; exit 127`;

/** The OpenSSH client that carries the bulk streams (zfs receive's input, zfs send's output):
 *  $ZB_SSH, else ssh on PATH; none, or ZB_SSH=ssh2: ssh2's own channel. OpenSSH moves a GiB
 *  over loopback with 1.1 s of CPU, ssh2 with 1.6 to 1.9 s: on a busy host that is the
 *  throughput (bench/ssh.bench.sh). The queries (lookups, lists, probes) stay on the one
 *  ssh2 connection, which checks the host key first. */
export function bulkSsh(): string | null {
  const e = process.env.ZB_SSH;
  if (e === 'ssh2') return null;
  if (e) { const p = which(e); if (!p) throw new ZbError(`ZB_SSH: '${e}' not found (ZB_SSH=ssh2 carries the stream in-process)`); return p; }
  return which('ssh');
}

export class SshZfs implements ZfsHost {
  readonly remote = true;
  private conn?: Promise<{ client: ssh2.Client; r: Resolved }>;
  private found?: Promise<string>;
  private path?: string;
  private usage?: Captured;
  private probed?: Promise<Caps>;
  private lost?: Error;
  private bulk?: string;   // the OpenSSH client, '' for none
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

  /** Whether the query connection still runs a command, within the keepalive's bound. */
  private async answers(r: Resolved): Promise<boolean> {
    if (!this.conn || this.lost) return false;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((res) => { timer = setTimeout(() => res(false), r.aliveInterval * r.aliveCount * 1000); });
    try { return await Promise.race([this.capture('true', 'true').then((x) => x.code === 0, () => false), late]); }
    finally { clearTimeout(timer); }
  }

  /** The remote zfs program (looked up once; its usage kept for run([])). */
  zfs(): Promise<string> {
    return this.found ??= this.capture(LOOKUP, 'zfs lookup').then((r) => {
      const m = /^(\d+) (.+)\n/.exec(r.stdout);
      if (r.code !== 0 || !m) throw new ZfsError(`'zfs' not found on '${this.name}' (on its PATH or in ${SBIN.join(', ')}): install ZFS there`);
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
   *  ('pipe'): a bulk stream, carried by OpenSSH's ssh when there is one (bulkSsh()), else
   *  by a channel of this connection. */
  async start(args: string[], [stdin, stdout]: [ZfsIo, ZfsIo], through?: string[]): Promise<Running> {
    if ((stdin !== 'pipe' && stdin !== 'ignore') || (stdout !== 'pipe' && stdout !== 'ignore')) throw new ZbError('internal error: a remote zfs takes streams, not fds');
    const zfs = await this.zfs();
    const line = commandLine([zfs, ...args]);
    const cmd = `${GROW} ${through ? `${commandLine(through)} | ${line}` : line}`, label = `${through ? through.join(' ') + ' | ' : ''}zfs ${args.join(' ')}`;
    const ssh = (this.bulk ??= bulkSsh() ?? '');
    const c = ssh ? await this.openssh(ssh, cmd, label, stdin === 'pipe') : await this.exec(cmd, label);
    if (stdin === 'ignore') c.stdin!.end();
    if (stdout === 'ignore') c.stdout!.resume();   // or 'close' never comes
    return c;
  }

  /** A command line run by OpenSSH's ssh on the connection ours resolved and checked. Its
   *  fate is tied to ours: when our keepalive finds the host gone first, ssh is stopped. */
  private async openssh(ssh: string, cmd: string, label: string, input: boolean): Promise<Running> {
    const client = await this.client();
    const { r } = await this.conn!;
    const c = start([ssh, ...(input ? [] : ['-n']), ...opensshArgs(r), cmd], ['pipe', 'pipe', 'pipe']);
    c.proc.stdin!.on('error', () => { /* ssh gone: done says why */ });
    const stop = () => {
      c.proc.kill('SIGTERM');
      setTimeout(() => { if (c.proc.exitCode === null && !c.proc.signalCode) c.proc.kill('SIGKILL'); }, 2000).unref();
    };
    let cut: Error | undefined;
    const gone = () => { cut = this.lost ?? new ZbError(`connection to '${this.name}' lost`); stop(); };
    client.once('close', gone);
    const done = c.done.then(() => { client.off('close', gone); }, async () => {
      client.off('close', gone);
      if (cut) throw cut;
      const code = c.proc.exitCode, lines = c.tail().trim().split('\n').filter(Boolean);
      // ssh's own failure (or a signal): the connection's; its ServerAlive bound (from the
      // config, as ours) also limits a silent key exchange or login
      if (code === 255 || code === null) {
        const why = /Timeout, server .* not responding|Connection to .* timed out/.test(c.tail()) ? `no answer for ${r.aliveInterval * r.aliveCount} s` : lines.at(-1)?.replace(/\.$/, '');
        throw new ZbError(`connection to '${this.name}' lost${why ? `: ${why}` : ''}`);
      }
      // a zfs whose input was cut as the host went (sshd killed) fails too: that is the
      // connection's failure when the other connection is gone as well
      if (!(await this.answers(r))) throw this.lost ?? new ZbError(`connection to '${this.name}' lost (${label} there exited ${code})`);
      const t = lines.slice(-3).join('; ');
      throw new ZbError(`'${label}' on '${this.name}' failed with exit code ${code}${t ? ': ' + t : ''}`, code);
    });
    done.catch(() => {});
    return { done, tail: c.tail, stop, stdin: c.proc.stdin!, stdout: c.proc.stdout! };
  }
}
