// An ssh connection configured as the user's ssh is: ~/.ssh/config (Host aliases, HostName,
// User, Port, IdentityFile, UserKnownHostsFile, StrictHostKeyChecking accept-new,
// ConnectTimeout, ServerAlive*), the agent, ~/.ssh/id_*, -i and --port over them. Host keys
// are checked (known-hosts.ts); a dead network ends it within seconds (connect and
// keepalive timeouts), it never hangs.
import { existsSync, readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import SSHConfig from 'ssh-config';
import type ssh2 from 'ssh2';
import { ZbError } from '../errors.js';
import { checkHostKey, hostKeyName, knownTypes, HostKeyError } from './known-hosts.js';

export interface SshOptions {
  /** a host name, address or Host alias of the ssh config */
  host: string;
  user?: string;
  port?: number;
  /** private key files (-i), tried before the config's and the defaults */
  identities?: string[];
  /** record the key of a host never seen before (OpenSSH's StrictHostKeyChecking accept-new) */
  acceptNewHostKey?: boolean;
  /** the ssh config file (default ~/.ssh/config) */
  configFile?: string;
  /** warnings and notes */
  note?: (line: string) => void;
}

export interface Resolved {
  alias: string; host: string; port: number; user: string; identities: string[]; knownHosts: string[];
  acceptNew: boolean; agent?: string; connectTimeout: number; aliveInterval: number; aliveCount: number;
}

const home = () => homedir();
const tilde = (p: string, o: { user: string; host: string; alias: string }) =>
  p.replace(/^~(?=\/|$)/, home()).replace(/%d/g, home()).replace(/%u/g, userInfo().username).replace(/%r/g, o.user).replace(/%h/g, o.host).replace(/%n/g, o.alias);
const one = (v: string | string[] | undefined) => Array.isArray(v) ? v[0] : v;
const many = (v: string | string[] | undefined) => v === undefined ? [] : Array.isArray(v) ? v : [v];

/** What ssh would use for o: the config's values under the options given. */
export function resolve(o: SshOptions): Resolved {
  const file = o.configFile ?? join(home(), '.ssh', 'config');
  let cfg: Record<string, string | string[]> = {};
  if (existsSync(file)) {
    try { cfg = SSHConfig.parse(readFileSync(file, 'utf8')).compute(o.host); }
    catch (e: any) { throw new ZbError(`cannot read the ssh config '${file}': ${e.message}`); }
  } else if (o.configFile) throw new ZbError(`ssh config '${file}' does not exist`);
  const get = (k: string) => one(cfg[k]);
  const user = o.user ?? get('User') ?? userInfo().username;
  const host = (get('HostName') ?? o.host).replace(/%h/g, o.host);
  const port = o.port ?? Number(get('Port') ?? 22);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ZbError(`bad port '${get('Port')}' for '${o.host}' in '${file}'`);
  const t = { user, host, alias: o.host };
  const given = [...(o.identities ?? []), ...many(cfg.IdentityFile).map(p => tilde(p, t))];
  const defaults = ['id_ed25519', 'id_ecdsa', 'id_rsa'].map(n => join(home(), '.ssh', n)).filter(existsSync);
  const known = get('UserKnownHostsFile')?.split(/\s+/).map(p => tilde(p, t)) ?? [join(home(), '.ssh', 'known_hosts'), join(home(), '.ssh', 'known_hosts2')];
  const secs = (k: string, d: number) => { const v = Number(get(k)); return Number.isFinite(v) && v > 0 ? v : d; };
  return {
    alias: o.host, host, port, user, identities: given.length ? given : defaults,
    knownHosts: [...known, '/etc/ssh/ssh_known_hosts'],
    acceptNew: !!o.acceptNewHostKey || get('StrictHostKeyChecking') === 'accept-new',
    agent: /^yes$/i.test(get('IdentitiesOnly') ?? '') ? undefined : process.env.SSH_AUTH_SOCK || undefined,
    connectTimeout: secs('ConnectTimeout', 10), aliveInterval: secs('ServerAliveInterval', 5), aliveCount: secs('ServerAliveCountMax', 3),
  };
}

/** The host key algorithm names for a known_hosts key type. */
const ALGS: Record<string, string[]> = { 'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] };

/** Connect and log in; resolves to the ready client. One line when it cannot. */
export async function connect(o: SshOptions): Promise<{ client: ssh2.Client; r: Resolved }> {
  // loaded here, not at start: zb-send and zb-recv run as local stages far more often
  const { default: ssh2 } = await import('./ssh2.js');
  const r = resolve(o);
  const where = `'${o.host}'${r.host !== o.host ? ` (${r.host})` : ''} port ${r.port}`;
  const tried: string[] = [];
  const auth: any[] = [];
  if (r.agent) { auth.push({ type: 'agent', username: r.user, agent: r.agent }); tried.push('the agent'); }
  for (const f of r.identities) {
    let text: Buffer;
    try { text = readFileSync(f); } catch (e: any) { o.note?.(`warning: identity file '${f}' cannot be read (${e.code}): skipped`); continue; }
    const k = ssh2.utils.parseKey(text);
    if (k instanceof Error) { o.note?.(`warning: identity file '${f}' is ${/encrypted|passphrase/i.test(k.message) ? 'encrypted (use the agent for it)' : 'not a private key'}: skipped`); continue; }
    auth.push({ type: 'publickey', username: r.user, key: k }); tried.push(f);
  }
  const types = knownTypes(r.knownHosts, hostKeyName(r.host, r.port));
  let keyError: Error | undefined;
  return new Promise((res, rej) => {
    const client = new ssh2.Client();
    let failed = false;
    const fail = (e: any) => {
      if (failed) return;
      failed = true;
      client.end();
      if (keyError) return rej(keyError);
      if (e.level === 'client-authentication')
        return rej(new ZbError(`cannot log in to ${where} as '${r.user}': the server took none of the keys tried (${tried.join(', ') || 'none: no agent, no ~/.ssh/id_*; pass -i FILE'})`));
      if (e.level === 'client-timeout') return rej(new ZbError(`cannot connect to ${where}: no answer within ${r.connectTimeout} s`));
      const why = e.code === 'ECONNREFUSED' ? 'connection refused' : e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN' ? 'no such host' : e.message;
      rej(new ZbError(`cannot connect to ${where}: ${why}`));
    };
    client.on('error', fail);
    client.once('ready', () => { client.off('error', fail); res({ client, r }); });
    client.connect({
      host: r.host, port: r.port, username: r.user, authHandler: auth,
      readyTimeout: r.connectTimeout * 1000, keepaliveInterval: r.aliveInterval * 1000, keepaliveCountMax: r.aliveCount,
      algorithms: { serverHostKey: { prepend: types.flatMap(t => ALGS[t] ?? [t]) } as any, cipher: { prepend: ['aes128-gcm@openssh.com'] } as any },
      hostVerifier: (key: Buffer) => {
        try { checkHostKey({ files: r.knownHosts, host: r.host, port: r.port, acceptNew: r.acceptNew, note: o.note }, key); return true; }
        catch (e) { keyError = e instanceof HostKeyError ? e : new ZbError(String(e)); return false; }
      },
    });
  });
}
