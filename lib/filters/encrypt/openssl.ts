// The `openssl enc` file format, for the seed's --cipher: "Salted__" || 8-byte salt ||
// ciphertext, key and IV derived from the passphrase with PBKDF2-HMAC (`-pbkdf2`, what we
// write) or EVP_BytesToKey with one iteration (openssl's old default, read only).
// NOT authenticated: a flipped bit decrypts to garbage, silently (see zb-encrypt(1)).
import { createCipheriv, createDecipheriv, createHash, getCipherInfo, getHashes, pbkdf2Sync, randomBytes,
  type Cipher, type Decipher } from 'node:crypto';
import { UsageError } from '../../errors.js';

export const SALTED = Buffer.from('Salted__');
export const DEFAULT_ITER = 10000;   // openssl enc -pbkdf2 without -iter
const MODES = new Set(['cbc', 'ecb', 'ctr', 'cfb', 'ofb', 'stream']);

export type Kdf = 'pbkdf2' | 'evp';
export interface LegacyParams { cipher: string; kdf: Kdf; md: string; iter: number }

/** Check a cipher name against what both `openssl enc` and Node can do; returns the canonical name. */
export function checkCipher(name: string, encrypting: boolean): string {
  const info = getCipherInfo(name.toLowerCase());
  if (!info) throw new UsageError(`unknown cipher '${name}' (see zb-encrypt(1) for the list)`);
  if (!MODES.has(info.mode) || /wrap|poly1305/.test(info.name))
    throw new UsageError(`cipher '${name}' (${info.mode} mode) is not an 'openssl enc' cipher; for authenticated encryption use the default age format`);
  if (encrypting && info.mode === 'ecb')
    throw new UsageError(`refusing to encrypt with '${name}': ECB mode shows patterns of the data (it can still decrypt)`);
  try { createCipheriv(info.name, Buffer.alloc(info.keyLength), info.ivLength ? Buffer.alloc(info.ivLength) : null); }
  catch { throw new UsageError(`cipher '${name}' is not available in this Node/OpenSSL build`); }
  return info.name;
}

export function checkMd(md: string): string {
  const m = md.toLowerCase();
  if (!getHashes().includes(m)) throw new UsageError(`unknown message digest '${md}'`);
  return m;
}

/** Key and IV as `openssl enc` derives them from passphrase and salt. */
export function deriveKeyIv(pass: Buffer, salt: Buffer, p: LegacyParams): { key: Buffer; iv: Buffer | null } {
  const info = getCipherInfo(p.cipher)!;
  const klen = info.keyLength, ilen = info.ivLength ?? 0;
  let kiv: Buffer;
  if (p.kdf === 'pbkdf2') kiv = pbkdf2Sync(pass, salt, p.iter, klen + ilen, p.md);
  else {  // EVP_BytesToKey(md, salt, pass, count = 1): D_i = md(D_{i-1} || pass || salt)
    const parts: Buffer[] = [];
    let prev = Buffer.alloc(0), have = 0;
    while (have < klen + ilen) {
      prev = createHash(p.md).update(prev).update(pass).update(salt).digest();
      parts.push(prev); have += prev.length;
    }
    kiv = Buffer.concat(parts);
  }
  return { key: kiv.subarray(0, klen), iv: ilen ? kiv.subarray(klen, klen + ilen) : null };
}

/** A fresh salt, the 16-byte file prefix, and the streaming cipher. */
export function encryptor(pass: Buffer, p: LegacyParams): { prefix: Buffer; cipher: Cipher } {
  const salt = randomBytes(8), { key, iv } = deriveKeyIv(pass, salt, p);
  return { prefix: Buffer.concat([SALTED, salt]), cipher: createCipheriv(p.cipher, key, iv) };
}

/** The streaming decipher for a file whose 16-byte prefix was read. */
export function decryptor(pass: Buffer, prefix: Buffer, p: LegacyParams): Decipher {
  const { key, iv } = deriveKeyIv(pass, prefix.subarray(8, 16), p);
  return createDecipheriv(p.cipher, key, iv);
}
