// age v1 (age-encryption.org/v1, c2sp.org/age): keys, recipient stanzas and the
// header with its MAC. The payload (STREAM) is in age-stream.ts.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { ZbError, UsageError } from '../../errors.js';
import { bech32Decode, bech32Encode } from './age-bech32.js';
import { b64, unb64, hkdf, hmac, open, scrypt, seal, x25519, x25519Public, ZERO_NONCE } from './age-crypto.js';
import { keyLines, readSecretFile } from '../../os/secret.js';

export const AGE_V1 = 'age-encryption.org/v1';
export const SCRYPT_LOG_N = 18;     // age's default work factor
export const MAX_LOG_N = 22;        // age's default limit when decrypting
const X25519_LABEL = 'age-encryption.org/v1/X25519';
const SCRYPT_LABEL = 'age-encryption.org/v1/scrypt';
const MAX_HEADER = 1 << 20;

export interface Stanza { args: string[]; body: Buffer }
export type Recipient = { type: 'x25519'; pub: Buffer } | { type: 'scrypt'; pass: Buffer; logN: number };
export interface Header { stanzas: Stanza[]; macText: string; mac: Buffer }

/** A line source for header parsing: one line without its LF, or null at EOF. */
export interface LineSource { line(max: number): Promise<string | null> }

export function parseRecipient(s: string): Buffer {
  const d = bech32Decode(s);
  if (d?.hrp === 'age' && d.bytes.length === 32 && s === s.toLowerCase()) return d.bytes;
  if (/^(ssh-|ecdsa-)/.test(s) || d?.hrp.startsWith('age'))
    throw new UsageError(`unsupported recipient type '${s.slice(0, 24)}…' (only age1… X25519 keys)`);
  throw new UsageError(`invalid age recipient '${s}'`);
}

export function readRecipientsFile(path: string): Buffer[] {
  const lines = keyLines(readSecretFile(path, 'recipients file', false));
  if (!lines.length) throw new ZbError(`recipients file '${path}' lists no recipients`);
  return lines.map(parseRecipient);
}

/** X25519 identities (AGE-SECRET-KEY-1… lines, as age-keygen writes them). */
export function readIdentityFile(path: string): Buffer[] {
  const ids = keyLines(readSecretFile(path, 'identity file')).map((l, i) => {
    const d = bech32Decode(l);
    if (d?.hrp === 'age-secret-key-' && d.bytes.length === 32 && l === l.toUpperCase()) return d.bytes;
    // never echo the line: it may be a secret of another kind
    throw new ZbError(`identity file '${path}': key ${i + 1} is unsupported or invalid (expected AGE-SECRET-KEY-1…)`);
  });
  if (!ids.length) throw new ZbError(`identity file '${path}' holds no identities`);
  return ids;
}

export function encodeRecipient(pub: Buffer): string { return bech32Encode('age', pub); }
export function encodeIdentity(secret: Buffer): string { return bech32Encode('AGE-SECRET-KEY-', secret); }

function wrap(fileKey: Buffer, r: Recipient): Stanza {
  if (r.type === 'scrypt') {
    const salt = randomBytes(16);
    const key = scrypt(r.pass, Buffer.concat([Buffer.from(SCRYPT_LABEL), salt]), r.logN);
    return { args: ['scrypt', b64(salt), String(r.logN)], body: seal(key, ZERO_NONCE, fileKey) };
  }
  const eph = randomBytes(32), share = x25519Public(eph);
  const key = hkdf(x25519(eph, r.pub), Buffer.concat([share, r.pub]), X25519_LABEL);
  return { args: ['X25519', b64(share)], body: seal(key, ZERO_NONCE, fileKey) };
}

function encodeStanza(s: Stanza): string {
  const body = b64(s.body), lines = [];
  for (let i = 0; i <= body.length; i += 64) lines.push(body.slice(i, i + 64));  // ends with a line < 64
  return `-> ${s.args.join(' ')}\n${lines.join('\n')}\n`;
}

/** A new header for a fresh file key; returns the header bytes. */
export function buildHeader(fileKey: Buffer, recipients: Recipient[]): Buffer {
  const text = `${AGE_V1}\n${recipients.map(r => encodeStanza(wrap(fileKey, r))).join('')}---`;
  return Buffer.from(`${text} ${b64(hmac(hkdf(fileKey, Buffer.alloc(0), 'header'), text))}\n`, 'latin1');
}

const bad = (why: string) => new ZbError(`corrupted age header: ${why}`);

export async function parseHeader(src: LineSource): Promise<Header> {
  let size = 0;
  const next = async () => {
    const l = await src.line(MAX_HEADER - size);
    if (l === null) throw new ZbError('the age header is truncated');
    if (!/^[\x20-\x7e]*$/.test(l)) throw bad('non-ASCII byte');
    size += l.length + 1;
    return l;
  };
  const first = await next();
  if (first !== AGE_V1) {
    if (first.startsWith('-----BEGIN AGE ENCRYPTED FILE')) throw new ZbError("armored age input is not supported: run 'age -d' on it");
    throw new ZbError(first.startsWith('age-encryption.org/') ? `unsupported age version '${first}'` : 'input is not an age file');
  }
  const text: string[] = [first], stanzas: Stanza[] = [];
  for (;;) {
    const l = await next();
    if (l.startsWith('--- ')) {
      const mac = unb64(l.slice(4));
      if (!mac || mac.length !== 32 || !stanzas.length) throw bad('malformed MAC line');
      return { stanzas, mac, macText: `${text.join('\n')}\n---` };
    }
    if (!l.startsWith('-> ')) throw bad(`unexpected line '${l.slice(0, 20)}'`);
    text.push(l);
    const args = l.slice(3).split(' ');
    if (args.some(a => a === '')) throw bad('empty stanza argument');
    let body = '';
    for (;;) {
      const b = await next();
      text.push(b);
      if (b.length > 64) throw bad('stanza body line longer than 64 columns');
      body += b;
      if (b.length < 64) break;
    }
    const dec = unb64(body);
    if (!dec) throw bad('stanza body is not canonical base64');
    stanzas.push({ args, body: dec });
  }
}

/** Unwrap the file key with a passphrase or identities, then check the header MAC. */
export function unwrapFileKey(h: Header, pass?: Buffer, identities: Buffer[] = []): Buffer {
  const fk = h.stanzas.some(s => s.args[0] === 'scrypt') ? unwrapScrypt(h, pass) : unwrapX25519(h, identities);
  const mac = hmac(hkdf(fk, Buffer.alloc(0), 'header'), h.macText);
  if (!timingSafeEqual(mac, h.mac)) throw new ZbError('age header MAC mismatch: the header was altered');
  return fk;
}

function unwrapScrypt(h: Header, pass?: Buffer): Buffer {
  if (h.stanzas.length !== 1) throw bad('an scrypt stanza must be the only one');
  if (!pass) throw new ZbError('the data is encrypted with a passphrase (age scrypt): give --password-file FILE');
  const [, salt64, logN64, ...more] = h.stanzas[0].args;
  const salt = unb64(salt64 ?? ''), body = h.stanzas[0].body;
  if (more.length || !salt || salt.length !== 16 || !/^[1-9][0-9]*$/.test(logN64 ?? '') || body.length !== 32)
    throw bad('malformed scrypt stanza');
  const logN = Number(logN64);
  if (logN > MAX_LOG_N) throw new ZbError(`age scrypt work factor 2^${logN} is above the limit 2^${MAX_LOG_N}`);
  const fk = open(scrypt(pass, Buffer.concat([Buffer.from(SCRYPT_LABEL), salt]), logN), ZERO_NONCE, body);
  if (!fk || fk.length !== 16) throw new ZbError('wrong passphrase or corrupted header');
  return fk;
}

function unwrapX25519(h: Header, identities: Buffer[]): Buffer {
  const ours = h.stanzas.filter(s => s.args[0] === 'X25519');
  if (!identities.length) {
    throw new ZbError(ours.length ? 'the data is encrypted to public keys (age X25519): give -i IDENTITY_FILE'
      : `no supported recipient stanza in the age header (found: ${h.stanzas.map(s => s.args[0]).join(', ')})`);
  }
  const ids = identities.map(id => ({ id, pub: x25519Public(id) }));
  for (const s of ours) {
    const share = s.args.length === 2 ? unb64(s.args[1]) : null;
    if (!share || share.length !== 32 || s.body.length !== 32) throw bad('malformed X25519 stanza');
    for (const { id, pub } of ids) {
      const key = hkdf(x25519(id, share), Buffer.concat([share, pub]), X25519_LABEL);
      const fk = open(key, ZERO_NONCE, s.body);
      if (fk && fk.length === 16) return fk;
    }
  }
  throw new ZbError('no identity matches the data: wrong key, or corrupted header');
}
