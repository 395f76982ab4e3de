// Host keys checked as OpenSSH checks them, against known_hosts: plain and hashed (|1|salt|hash)
// host fields, [host]:port for ports other than 22, wildcards, @revoked. A key never seen is
// refused with its fingerprint and the line that adds it (or, when asked, added: accept-new);
// a key that differs from the one recorded is refused louder, and no option accepts it.
import { createHash, createHmac } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ZbError } from '../errors.js';

export class HostKeyError extends ZbError {}

/** The name a host's keys are recorded under: host, or [host]:port. */
export function hostKeyName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** SHA256:base64 of the key blob, as ssh-keygen -l prints it. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type inside an ssh public key blob (its first string). */
export function keyType(blob: Buffer): string {
  const n = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + n).toString('latin1');
}

interface Entry { marker?: string; type: string; key: string; line: number }

function glob(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return re.test(name);
}

/** Whether a known_hosts host field names `name`. */
function matches(field: string, name: string): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  let hit = false;
  for (const p of field.split(',')) {
    if (p.startsWith('!')) { if (glob(p.slice(1), name)) return false; } else if (glob(p, name)) hit = true;
  }
  return hit;
}

/** The entries of the files for name. */
export function lookup(files: string[], name: string): Entry[] {
  const out: Entry[] = [];
  for (const f of files) {
    if (!existsSync(f)) continue;
    readFileSync(f, 'utf8').split('\n').forEach((l, i) => {
      const w = l.trim().split(/\s+/);
      if (!w[0] || w[0].startsWith('#')) return;
      const marker = w[0].startsWith('@') ? w.shift() : undefined;
      if (w.length >= 3 && matches(w[0], name)) out.push({ marker, type: w[1], key: w[2], line: i + 1 });
    });
  }
  return out;
}

/** The key types recorded for name (the algorithms to ask the server for first). */
export function knownTypes(files: string[], name: string): string[] {
  return [...new Set(lookup(files, name).filter(e => !e.marker).map(e => e.type))];
}

export interface Check { files: string[]; host: string; port: number; acceptNew?: boolean; note?: (s: string) => void }

/** Throws HostKeyError unless blob is the host's recorded key (or, with acceptNew, records a new host's key). */
export function checkHostKey(c: Check, blob: Buffer): void {
  const name = hostKeyName(c.host, c.port), b64 = blob.toString('base64'), type = keyType(blob), fp = fingerprint(blob);
  const entries = lookup(c.files, name);
  if (entries.some(e => e.marker === '@revoked' && e.key === b64)) throw new HostKeyError(`the host key of '${name}' (${type} ${fp}) is marked @revoked in known_hosts: refusing to connect`);
  const plain = entries.filter(e => !e.marker);
  if (plain.some(e => e.key === b64)) return;
  const file = c.files[0];
  if (plain.length) {
    const was = plain.map(e => `${e.type} line ${e.line}`).join(', ');
    throw new HostKeyError(`WARNING: THE HOST KEY OF '${name}' HAS CHANGED (now ${type} ${fp}; known_hosts has ${was}): someone may be intercepting the connection (or the host was reinstalled); refusing to connect, whatever the options. If you know why it changed, remove the old key (ssh-keygen -R '${name}' -f ${file}) and check the new one`);
  }
  const line = `${name} ${type} ${b64}`;
  if (!c.acceptNew) throw new HostKeyError(`the host key of '${name}' is not known (${type} ${fp}); if that fingerprint is the host's, add it with: echo '${line}' >> ${file}   (or run once with --accept-new-host-key)`);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  appendFileSync(file, line + '\n', { mode: 0o600 });
  c.note?.(`note: added the host key of '${name}' (${type} ${fp}) to ${file}`);
}
