// A real OpenSSH sshd on 127.0.0.1 for the ssh tests: its own host key, a client key in its
// authorized_keys, its own config and port; and a HOME for the client with .ssh/config
// (Host alias), known_hosts and the key as id_ed25519, so the defaults are what is tested.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { tmp } from './util.js';

export interface Sshd { port: number; home: string; dir: string; proc: ChildProcess; hostPub: string; env: Record<string, string>;
  known(): void; kill(): void; alias: string }

const freePort = () => new Promise<number>((res) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = (s.address() as any).port; s.close(() => res(p)); }); });
const keygen = (f: string) => execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'zbt', '-f', f]);

/** Start sshd; `known()` writes its key into the client's known_hosts ([127.0.0.1]:port). */
/** `noZfs`: sshd runs in a mount namespace of its own where no zfs is to be found (zfs's
 *  path is /dev/null there, which is not executable). */
export async function sshd(t: { teardown(f: () => void | Promise<void>): void }, extra: string[] = [], o: { noZfs?: boolean } = {}): Promise<Sshd> {
  const dir = tmp(t, 'zbt-sshd-'), home = join(dir, 'home'), ssh = join(home, '.ssh');
  mkdirSync(ssh, { recursive: true, mode: 0o700 });
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });   // sshd's privilege separation directory
  keygen(join(dir, 'host_key')); keygen(join(ssh, 'id_ed25519'));
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(ssh, 'id_ed25519.pub')));
  chmodSync(dir, 0o755);
  const port = await freePort();
  writeFileSync(join(dir, 'sshd_config'), [`ListenAddress 127.0.0.1`, `HostKey ${dir}/host_key`, `AuthorizedKeysFile ${dir}/authorized_keys`,
    `PidFile ${dir}/sshd.pid`, 'StrictModes no', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UsePAM no',
    'PermitRootLogin yes', 'LogLevel ERROR', ...(extra.length ? extra : ['SetEnv PATH=/usr/local/bin:/usr/bin:/bin']), ''].join('\n'));
  const alias = 'zbt-backup';
  writeFileSync(join(ssh, 'config'), `Host ${alias}\n  HostName 127.0.0.1\n  Port ${port}\n  User root\n`);
  const args = ['-D', '-e', '-f', join(dir, 'sshd_config'), '-p', String(port)];
  const zfs = execFileSync('sh', ['-c', 'command -v zfs'], { env: { PATH: '/usr/local/sbin:/usr/sbin:/sbin:/usr/local/bin:/usr/bin:/bin' } }).toString().trim();
  const proc = o.noZfs ? spawn('unshare', ['-m', 'sh', '-c', `mount --bind /dev/null ${zfs} && exec /usr/sbin/sshd "$@"`, 'sh', ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
    : spawn('/usr/sbin/sshd', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = ''; proc.stderr!.on('data', d => { err += d; });
  for (let i = 0; ; i++) {
    try { execFileSync('ssh-keyscan', ['-p', String(port), '127.0.0.1'], { stdio: ['ignore', 'pipe', 'ignore'] }); break; }
    catch { if (i > 50 || proc.exitCode !== null) throw new Error(`sshd did not start: ${err}`); await new Promise(r => setTimeout(r, 100)); }
  }
  const hostPub = readFileSync(join(dir, 'host_key.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
  const kill = () => {
    // the listener and every session it forked (a session's sshd outlives its listener)
    try { execFileSync('pkill', ['-KILL', '-P', String(proc.pid)], { stdio: 'ignore' }); } catch { /* none */ }
    proc.kill('SIGKILL');
  };
  t.teardown(kill);
  return { port, home, dir, proc, hostPub, alias, kill,
    env: { HOME: home, SSH_AUTH_SOCK: '' },
    known: () => writeFileSync(join(ssh, 'known_hosts'), `[127.0.0.1]:${port} ${hostPub}\n`) };
}
