// The primitives age v1 is built from, all from Node's crypto (OpenSSL):
// X25519, HKDF-SHA-256, HMAC-SHA-256, scrypt, ChaCha20-Poly1305; and age's unpadded base64.
import {
  createCipheriv, createDecipheriv, createHmac, createPrivateKey, createPublicKey,
  diffieHellman, hkdfSync, scryptSync,
} from 'node:crypto';
import { ZbError } from '../../errors.js';

export const AEAD = 'chacha20-poly1305';
export const ZERO_NONCE = Buffer.alloc(12);
// DER prefixes of an X25519 PKCS#8 private key and SPKI public key (RFC 8410); the raw 32 bytes follow.
const PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI = Buffer.from('302a300506032b656e032100', 'hex');

export function hkdf(ikm: Buffer, salt: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, 32));
}

export function hmac(key: Buffer, data: Buffer | string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function privKey(secret: Buffer) {
  return createPrivateKey({ key: Buffer.concat([PKCS8, secret]), format: 'der', type: 'pkcs8' });
}

/** X25519(secret, basepoint): the public key of a 32-byte secret. */
export function x25519Public(secret: Buffer): Buffer {
  return createPublicKey(privKey(secret)).export({ format: 'der', type: 'spki' }).subarray(SPKI.length);
}

/** X25519(secret, pub); refuses the all-zero result of a low-order point. */
export function x25519(secret: Buffer, pub: Buffer): Buffer {
  let shared: Buffer;
  try {
    const publicKey = createPublicKey({ key: Buffer.concat([SPKI, pub]), format: 'der', type: 'spki' });
    shared = diffieHellman({ privateKey: privKey(secret), publicKey });
  } catch { throw new ZbError('invalid X25519 share (a low-order point): the age header is malicious or corrupted'); }
  if (shared.every(b => b === 0)) throw new ZbError('X25519 shared secret is zero: the age header is malicious or corrupted');
  return shared;
}

/** age's scrypt: N = 2^logN, r = 8, p = 1, 32 bytes. Needs 1 KiB × N of memory. */
export function scrypt(pass: Buffer, salt: Buffer, logN: number): Buffer {
  const N = 2 ** logN;
  return scryptSync(pass, salt, 32, { N, r: 8, p: 1, maxmem: 1024 * N + (32 << 20) });
}

/** ChaCha20-Poly1305 seal: ciphertext || 16-byte tag. */
export function seal(key: Buffer, nonce: Buffer, pt: Buffer): Buffer {
  const c = createCipheriv(AEAD, key, nonce, { authTagLength: 16 });
  return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
}

/** ChaCha20-Poly1305 open; null when the tag does not verify. */
export function open(key: Buffer, nonce: Buffer, ct: Buffer): Buffer | null {
  if (ct.length < 16) return null;
  const d = createDecipheriv(AEAD, key, nonce, { authTagLength: 16 });
  d.setAuthTag(ct.subarray(ct.length - 16));
  const pt = d.update(ct.subarray(0, ct.length - 16));
  try { d.final(); } catch { return null; }
  return pt;
}

/** Standard base64 without padding (RFC 4648 §4, as age writes it). */
export function b64(b: Buffer): string {
  return b.toString('base64').replace(/=+$/, '');
}

/** Decode canonical unpadded base64; null for anything else (padding, stray bits, bad chars). */
export function unb64(s: string): Buffer | null {
  if (!/^[A-Za-z0-9+/]*$/.test(s) || s.length % 4 === 1) return null;
  const b = Buffer.from(s, 'base64');
  return b64(b) === s ? b : null;
}
