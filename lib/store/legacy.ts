// Backups made by the original Python tool: its map stores each snapshot's filters
// as the argv lists it ran to restore (e.g. ["/usr/bin/openssl","enc","-aes-256-cbc",
// "-d","-salt","-pass","file:/root/pw"], ["/usr/bin/gunzip"]). We recognise gzip,
// pigz and `openssl enc` among them and map each to one of our stages; anything else is
// refused by name. No command from a map is ever run, no path or password in it used.
import { createDecipheriv, getCipherInfo } from 'node:crypto';
import { isAbsolute, basename } from 'node:path';
import { ZbError } from '../errors.js';
import type { Filter } from '../stream/zb.js';
import { isZfsStream } from '../stream/zfs.js';
import { checkCipher, deriveKeyIv, SALTED } from '../filters/encrypt/openssl.js';

export type LegacyMd = 'md5' | 'sha256';

const GZIP = new Set(['gzip', 'gunzip', 'zcat', 'pigz', 'unpigz']);
const GZIP_FLAGS = /^(-[dcfqnNk]+|--(decompress|uncompress|stdout|to-stdout|force|quiet|no-name|name|keep))$/;
const ENC_SKIP_VALUE = new Set(['-pass', '-k', '-kfile']);     // the secret (or its place): ignored
const ENC_FLAGS = new Set(['-d', '-e', '-salt', '-pbkdf2']);
const MAGICS: [string, Buffer][] = [['gzip', Buffer.from([0x1f, 0x8b])], ['zstd', Buffer.from([0x28, 0xb5, 0x2f, 0xfd])],
  ['xz', Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])], ['lz4', Buffer.from([0x04, 0x22, 0x4d, 0x18])],
  ['bzip2', Buffer.from('BZh')]];

const show = (argv: unknown) => JSON.stringify(argv);
function refuse(argv: unknown, why: string): never {
  throw new ZbError(`map filter ${show(argv)} ${why}; a command from a map is never run`);
}

/** One argv list from an original map, as one of our filters. Throws for anything else. */
export function recognise(argv: unknown): Filter {
  if (!Array.isArray(argv) || !argv.length || !argv.every(a => typeof a === 'string')) refuse(argv, 'is not an argv list');
  const [cmd, ...args] = argv as string[];
  const prog = basename(cmd);
  if (GZIP.has(prog)) {
    for (let i = 0; i < args.length; i++) {
      if (GZIP_FLAGS.test(args[i]) || /^-[1-9]$/.test(args[i])) continue;
      if (prog.includes('pigz') && (args[i] === '-p' || args[i] === '--processes') && /^\d+$/.test(args[i + 1] ?? '')) { i++; continue; }
      refuse(argv, `has an argument '${args[i]}' that a ${prog} filter does not take`);
    }
    return { kind: 'compress', alg: prog.includes('pigz') ? 'pigz' : 'gzip' };
  }
  if (prog === 'openssl') {
    let rest = args, cipher: string | undefined, md: string | undefined, iter: number | undefined, pbkdf2 = false;
    if (rest[0] === 'enc') rest = rest.slice(1);
    else if (rest[0] && getCipherInfo(rest[0])) { cipher = rest[0]; rest = rest.slice(1); }  // `openssl aes-256-cbc …`
    else refuse(argv, "is an openssl command other than 'enc'");
    for (let i = 0; i < rest.length; i++) {
      const a = rest[i];
      if (ENC_FLAGS.has(a)) { if (a === '-pbkdf2') pbkdf2 = true; continue; }
      if (ENC_SKIP_VALUE.has(a) && i + 1 < rest.length) { i++; continue; }
      if (a === '-md' && i + 1 < rest.length) { md = rest[++i].toLowerCase(); continue; }
      if (a === '-iter' && /^\d+$/.test(rest[i + 1] ?? '')) { iter = Number(rest[++i]); pbkdf2 = true; continue; }
      if (a === '-nosalt') refuse(argv, 'uses -nosalt, which zb-encrypt does not read');
      if (a.startsWith('-') && !cipher && getCipherInfo(a.slice(1))) { cipher = a.slice(1).toLowerCase(); continue; }
      refuse(argv, `has an argument '${a}' that an 'openssl enc' filter of the original tool does not take`);
    }
    if (!cipher) refuse(argv, 'names no cipher');
    try { cipher = checkCipher(cipher, false); } catch (e: any) { refuse(argv, `uses a cipher zb-encrypt cannot read (${e.message})`); }
    const f: Filter = { kind: 'encrypt', alg: 'openssl', cipher, kdf: pbkdf2 ? 'pbkdf2' : 'evp' };
    if (md) f.md = md;
    if (iter) f.iter = iter;
    return f;
  }
  refuse(argv, 'is not a gzip, pigz or openssl enc command');
}

/** Does `head` (the first bytes of a chunk) look like the output of filter f? */
function looksLike(head: Buffer, f: Filter): boolean {
  if (f.kind === 'encrypt') return head.subarray(0, 8).equals(SALTED);
  return head.subarray(0, 2).equals(MAGICS[0][1]);
}

/** The filters of an original entry in our order (the order they were applied when
 *  backing up). The original stored them in restore order (the first list undoes the
 *  last filter applied); a hand-written map may hold them the other way round, so the
 *  first chunk's first bytes decide when they can. */
export function legacyFilters(argvs: unknown, head?: Buffer): Filter[] {
  if (argvs === undefined || argvs === null) return [];
  if (!Array.isArray(argvs)) refuse(argvs, 'is not a list of argv lists');
  const restoreOrder = argvs.map(recognise);
  if (restoreOrder.length > 1 && head && head.length >= 8 && !looksLike(head, restoreOrder[0])) {
    if (looksLike(head, restoreOrder[restoreOrder.length - 1])) restoreOrder.reverse();
    else throw new ZbError(`the first chunk is neither ${describe([restoreOrder[0]])} nor ${describe([restoreOrder.at(-1)!])} output: cannot restore it with the map's filters`);
  }
  return restoreOrder.reverse();
}

/** "gzip,openssl(aes-256-cbc)": filters for people, in the order applied. */
export function describe(filters: Filter[]): string {
  return filters.map(f => f.kind === 'command' ? `command(${f.alg})` : f.alg === 'openssl' ? `openssl(${f.cipher}${f.md ? ',' + f.md : ''})` : f.alg).join(',');
}

/** Which EVP_BytesToKey digest an old `openssl enc` file was made with: md5 (OpenSSL
 *  up to 1.0) or sha256 (since 1.1). Decrypts the first two blocks with each and
 *  keeps the one whose plaintext starts like a stream we know. */
export function detectMd(head: Buffer, pass: Buffer, cipher: string): LegacyMd | undefined {
  if (head.length < 48 || !head.subarray(0, 8).equals(SALTED)) return undefined;
  const hits = (['md5', 'sha256'] as LegacyMd[]).filter(md => {
    const { key, iv } = deriveKeyIv(pass, head.subarray(8, 16), { cipher, kdf: 'evp', md, iter: 1 });
    const d = createDecipheriv(cipher, key, iv);
    d.setAutoPadding(false);
    const p = d.update(head.subarray(16, 48));
    return isZfsStream(p) || MAGICS.some(([, m]) => p.subarray(0, m.length).equals(m));
  });
  return hits.length === 1 ? hits[0] : undefined;
}

/** Where an original chunk path may point, as keys of the store (relative to its root),
 *  the likelier first. It wrote PREFIX/chunks/NAME (relative to DEST, or the bucket);
 *  maps written by hand often say chunks/NAME (relative to the store). An absolute path
 *  or a '..' is refused. */
export function legacyKeys(prefix: string, p: unknown): string[] {
  if (typeof p !== 'string' || !p || isAbsolute(p) || p.split(/[\\/]/).some(c => c === '..'))
    throw new ZbError(`map chunk path ${JSON.stringify(p)} is not a path inside the backup directory`);
  return p.startsWith(`${prefix}/`) ? [p.slice(prefix.length + 1), p] : [p];
}
