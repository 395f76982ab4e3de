// zb-encrypt's job: age v1 (default) or legacy `openssl enc` over a zb stream's
// payload (or plain data with --raw), recording the filter in the header; -d reverses.
import { randomBytes } from 'node:crypto';
import { ZbError, UsageError } from '../../errors.js';
import { ZbReader, ZbWriter, EmptyInputError, newMeta, type Filter, type Meta } from '../../stream/zb.js';
import { isZfsStream } from '../../stream/zfs.js';
import { ALGS, INFO, type Alg } from '../compress/algs.js';
import { buildHeader, parseHeader, parseRecipient, readIdentityFile, readRecipientsFile, unwrapFileKey,
  AGE_V1, MAX_LOG_N, SCRYPT_LOG_N, type Recipient } from './age.js';
import { AgeOpener, AgeSealer, payloadKey, type Sink } from './age-stream.js';
import { checkCipher, checkMd, decryptor, encryptor, DEFAULT_ITER, SALTED,
  type Kdf, type LegacyParams } from './openssl.js';
import { passphrase } from '../../os/secret.js';
import { Pull, GcTicker } from './io.js';

export interface EncryptOptions {
  decrypt?: boolean;
  raw?: boolean;                 // plain data out (encrypt) / plain data out and in (decrypt)
  passwordFile?: string;         // else $ZB_PASSWORD
  recipients?: string[];         // age1…
  recipientsFiles?: string[];
  identityFiles?: string[];      // AGE-SECRET-KEY-1…
  scryptLogN?: number;
  cipher?: string;               // legacy openssl enc
  kdf?: Kdf;
  md?: string;
  iter?: number;
}

async function openInput(fd: number, plain: 'zfs' | 'any'): Promise<ZbReader | null> {
  try { return await ZbReader.open(fd, { plain, sync: true }); }
  catch (e) {  // empty plain input is valid data to encrypt
    if (plain === 'any' && e instanceof EmptyInputError) return null;
    throw e;
  }
}

function legacyParams(o: EncryptOptions, f: Filter | undefined, encrypting: boolean): LegacyParams {
  const cipher = o.cipher ?? (f?.cipher as string | undefined);
  const kdf = o.kdf ?? (f?.kdf as Kdf | undefined) ?? (encrypting ? 'pbkdf2' : undefined);
  if (!cipher || !kdf) throw new UsageError("plain 'openssl enc' input: give --cipher and --kdf (the format does not record them)");
  if (encrypting && kdf !== 'pbkdf2') throw new UsageError('--kdf evp is only for reading old backups; encryption uses pbkdf2');
  const iter = o.iter ?? (typeof f?.iter === 'number' ? f.iter : DEFAULT_ITER);
  const md = checkMd(o.md ?? (f?.md as string | undefined) ?? 'sha256');
  return { cipher: checkCipher(cipher, encrypting), kdf, md, iter };
}

function needPass(o: EncryptOptions): Buffer {
  const p = passphrase(o.passwordFile);
  if (!p) throw new UsageError('a passphrase is needed: give --password-file FILE (or set ZB_PASSWORD)');
  return p;
}

const hasRecipients = (o: EncryptOptions) => !!(o.recipients?.length || o.recipientsFiles?.length);

function ageRecipients(o: EncryptOptions): Recipient[] {
  const keys = [...(o.recipients ?? []).map(parseRecipient), ...(o.recipientsFiles ?? []).flatMap(readRecipientsFile)];
  if (!keys.length) return [{ type: 'scrypt', pass: needPass(o), logN: o.scryptLogN ?? SCRYPT_LOG_N }];
  if (o.passwordFile !== undefined)
    throw new UsageError('give either --password-file or recipients (-r/-R), not both (age forbids mixing them)');
  if (o.scryptLogN !== undefined) throw new UsageError('--scrypt-log-n goes with a passphrase, not with recipients');
  return keys.map(pub => ({ type: 'x25519', pub }));
}

/** What an encryption writes: the filter for the header, the format's prefix, the payload transform. */
interface Encryption {
  filter: Filter;
  prefix: Buffer;
  push(b: Buffer): Promise<void>;
  finish(): Promise<void>;
}

function legacyEncryption(o: EncryptOptions, sink: Sink): Encryption {
  if (hasRecipients(o)) throw new UsageError('--cipher is passphrase-only; recipients (-r/-R) need the age format');
  if (o.scryptLogN !== undefined) throw new UsageError('--scrypt-log-n is for the age format, not --cipher');
  const p = legacyParams(o, undefined, true), { prefix, cipher } = encryptor(needPass(o), p), gc = new GcTicker();
  return {
    filter: { kind: 'encrypt', alg: 'openssl', cipher: p.cipher, kdf: p.kdf, md: p.md, iter: p.iter },
    prefix,
    push: (b) => { gc.tick(b.length); return sink(cipher.update(b)); },
    finish: () => sink(cipher.final()),
  };
}

function ageEncryption(o: EncryptOptions, sink: Sink): Encryption {
  if (o.kdf || o.md || o.iter !== undefined) throw new UsageError('--kdf, --md and --iter go with --cipher');
  const rs = ageRecipients(o), fileKey = randomBytes(16), { nonce, key } = payloadKey(fileKey);
  const s = new AgeSealer(key, sink);
  return {
    filter: { kind: 'encrypt', alg: 'age', mode: rs[0].type },
    prefix: Buffer.concat([buildHeader(fileKey, rs), nonce]),
    push: (b) => s.push(b),
    finish: () => s.finish(),
  };
}

export async function encryptStream(o: EncryptOptions, inFd = 0, outFd = 1): Promise<void> {
  if (o.identityFiles?.length) throw new UsageError('-i is for decryption (-d); encrypt with -r/-R or --password-file');
  if (o.scryptLogN !== undefined && (o.scryptLogN < 1 || o.scryptLogN > MAX_LOG_N))
    throw new UsageError(`--scrypt-log-n must be 1..${MAX_LOG_N}`);
  let w: ZbWriter | undefined;
  const sink = (b: Buffer) => w!.write(b);
  const e = o.cipher !== undefined ? legacyEncryption(o, sink) : ageEncryption(o, sink);  // keys before input
  const r = await openInput(inFd, o.raw ? 'any' : 'zfs');
  const meta: Meta = r ? { ...r.meta, filters: [...r.meta.filters, e.filter] } : newMeta({ plain: true, filters: [e.filter] });
  w = new ZbWriter(outFd, meta, o.raw);
  await w.write(e.prefix);
  if (r) for await (const b of r.payload()) await e.push(b);
  await e.finish();
  await w.end();
}

/** The last filter of a zb stream, which -d undoes; refuses anything but an encryption. */
function lastFilter(r: ZbReader): Filter | undefined {
  if (r.plain) return undefined;
  const f = r.meta.filters.at(-1);
  if (!f) throw new ZbError('the stream is not encrypted (its header lists no filters)');
  if (f.kind === 'compress')
    throw new ZbError(`the stream is compressed (${f.alg}): decompress it with 'zb-compress -d' before decrypting`);
  if (f.kind !== 'encrypt') throw new ZbError(`the stream's last filter is ${f.kind} (${f.alg}): undo it before decrypting`);
  if (f.alg !== 'age' && f.alg !== 'openssl') throw new ZbError(`unsupported encryption '${f.alg}' in the stream header`);
  return f;
}

/** Plain input: age or openssl enc, by their first bytes. */
async function sniff(src: Pull): Promise<'age' | 'openssl'> {
  const head = (await src.peek(AGE_V1.length)).toString('latin1');
  if (head === AGE_V1 || head.startsWith('-----')) return 'age';  // (armored age: refused with a message)
  if (head.startsWith('Salted__')) return 'openssl';
  throw new ZbError("input is not encrypted data: neither an age file, nor 'openssl enc' data (Salted__), nor a zb stream");
}

async function decryptAge(o: EncryptOptions, src: Pull, sink: Sink): Promise<void> {
  if (o.cipher || o.kdf || o.md || o.iter !== undefined)
    throw new UsageError('--cipher, --kdf, --md and --iter are for openssl data; this is age');
  const ids = (o.identityFiles ?? []).flatMap(readIdentityFile);
  const pass = ids.length && o.passwordFile === undefined ? undefined : passphrase(o.passwordFile);
  const fk = unwrapFileKey(await parseHeader(src), pass, ids);
  const nonce = await src.take(16);
  if (!nonce) throw new ZbError('the age payload is missing: the data was truncated');
  const op = new AgeOpener(payloadKey(fk, Buffer.from(nonce)).key, sink);
  for await (const b of src.rest()) await op.push(b);
  await op.finish();
}

async function decryptOpenssl(o: EncryptOptions, f: Filter | undefined, src: Pull, out: Sink, inner?: Inner): Promise<void> {
  const p = legacyParams(o, f, false);
  const prefix = await src.take(16);
  if (!prefix || !prefix.subarray(0, 8).equals(SALTED))
    throw new ZbError("openssl data without its 'Salted__' header (truncated, or written with -nosalt)");
  const d = decryptor(needPass(o), prefix, p), gc = new GcTicker();
  const sink = inner ? expect(inner, out) : { push: out, end: async () => {} };
  for await (const b of src.rest()) { gc.tick(b.length); await sink.push(d.update(b)); }
  let last: Buffer;
  try { last = d.final(); } catch { throw new ZbError('wrong passphrase or corrupted data (bad padding in the last block)'); }
  await sink.push(last);
  await sink.end();
}

/** What the header says lies under the encryption, told by its first bytes. */
interface Inner { what: string; need: number; test(head: Buffer): boolean }

/**
 * openssl enc has no key check: a wrong passphrase decrypts to garbage, noticed (for
 * CBC) only at the last block, and by then the next stage (a decompressor, zfs receive)
 * has failed on the garbage and taken the blame. The zb header says what the plaintext
 * is, so its first bytes are checked before any goes out.
 */
function innerOf(r: ZbReader): Inner | undefined {
  if (r.plain) return undefined;
  const under = r.meta.filters.at(-2);
  // a header with a source dataset (zb-send's) over no other filter: a zfs send stream
  if (!under) return r.meta.plain || !r.meta.dataset ? undefined : { what: 'zfs send stream', need: 16, test: isZfsStream };
  if (under.kind === 'compress' && ALGS.includes(under.alg as Alg)) {
    const magic = INFO[under.alg as Alg].magic;
    return { what: `${under.alg} stream`, need: Math.max(...magic.map(m => m.length)),
      test: (h) => magic.some(m => h.length >= m.length && h.subarray(0, m.length).equals(m)) };
  }
  if (under.kind === 'encrypt' && under.alg === 'openssl') return { what: 'openssl data', need: 8, test: (h) => h.subarray(0, 8).equals(SALTED) };
  if (under.kind === 'encrypt' && under.alg === 'age') return { what: 'age file', need: AGE_V1.length, test: (h) => h.toString('latin1') === AGE_V1 };
  return undefined;
}

/** A sink that holds the first bytes until they show `inner`, else fails. */
function expect(inner: Inner, sink: Sink): { push: Sink; end(): Promise<void> } {
  let head: Buffer | null = Buffer.alloc(0);
  const check = async () => {
    const h = head!;
    head = null;
    if (!inner.test(h.subarray(0, inner.need)))
      throw new ZbError(`bad decrypt: wrong passphrase? the decrypted data is not the ${inner.what} the stream header says it holds`);
    await sink(h);
  };
  return {
    push: async (b) => {
      if (!head) return sink(b);
      head = Buffer.concat([head, b]);
      if (head.length >= inner.need) await check();
    },
    end: async () => { if (head) await check(); },
  };
}

export async function decryptStream(o: EncryptOptions, inFd = 0, outFd = 1): Promise<void> {
  if (hasRecipients(o)) throw new UsageError('-r/-R are for encryption; decrypt with -i or --password-file');
  const r = await ZbReader.open(inFd, { plain: 'any', sync: true });
  const f = lastFilter(r), src = new Pull(r.payload());
  const alg = f?.alg ?? await sniff(src);
  const meta: Meta = r.plain ? r.meta : { ...r.meta, filters: r.meta.filters.slice(0, -1) };
  const w = new ZbWriter(outFd, meta, o.raw), sink = (b: Buffer) => w.write(b);
  await (alg === 'age' ? decryptAge(o, src, sink) : decryptOpenssl(o, f, src, sink, innerOf(r)));
  await w.end();  // only now: every chunk verified and the input's end frame seen
}
