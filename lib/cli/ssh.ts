// The ssh options of zb-recv-ssh, zb-send, zb-list and the ssh method: parsed once, and
// turned back into argv for the stages the wrapper starts.
import { UsageError } from '../errors.js';
import type { Opts, Spec } from './command.js';
import { prog } from './command.js';
import type { SshOptions } from '../ssh/connect.js';

/** (-i for --identity is added by the binaries where -i means nothing else: not zb-send) */
export const SSH_SPEC: Required<Pick<Spec, 'string' | 'multi' | 'boolean'>> = {
  string: ['host', 'user', 'port', 'ssh-config'], multi: ['identity'], boolean: ['accept-new-host-key'],
};

export const SSH_HELP = `      --host HOST    the remote host: a name, an address, or a Host of ~/.ssh/config
      --user USER    log in as USER (default: the config's User, else the current user)
      --port N       ssh port (default: the config's Port, else 22)
  -i, --identity FILE  a private key to try (after the agent; may repeat; zb-send:
                     --identity only)
      --accept-new-host-key  record the key of a host not in known_hosts yet (first use);
                     a changed key is always refused
      --ssh-config FILE  read FILE instead of ~/.ssh/config
`;

/** The ssh options given (undefined without --host). */
export function sshOptions(o: Opts): SshOptions | undefined {
  const rest = ['user', 'port', 'ssh-config'].filter(k => o[k] !== undefined);
  if (o.host === undefined) {
    if (rest.length || o.identity.length || o['accept-new-host-key']) throw new UsageError(`--${rest[0] ?? (o.identity.length ? 'identity' : 'accept-new-host-key')} needs --host`);
    return undefined;
  }
  let port: number | undefined;
  if (o.port !== undefined) {
    port = /^\d+$/.test(o.port) ? Number(o.port) : NaN;
    if (!(port >= 1 && port <= 65535)) throw new UsageError(`bad port '${o.port}' (1 to 65535)`);
  }
  return { host: o.host, user: o.user, port, identities: o.identity, acceptNewHostKey: o['accept-new-host-key'], configFile: o['ssh-config'],
    note: (l) => process.stderr.write(`${prog}: ${l}\n`) };
}

/** The ssh options as argv again, for a stage. */
export function sshArgv(s: SshOptions): string[] {
  const a = ['--host', s.host];
  if (s.user !== undefined) a.push('--user', s.user);
  if (s.port !== undefined) a.push('--port', String(s.port));
  for (const i of s.identities ?? []) a.push('--identity', i);
  if (s.acceptNewHostKey) a.push('--accept-new-host-key');
  if (s.configFile !== undefined) a.push('--ssh-config', s.configFile);
  return a;
}
