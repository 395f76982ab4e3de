#!/usr/bin/env node
// zb-encrypt: age v1 encryption (passphrase or public keys) of a zb stream, or
// legacy `openssl enc`; -d decrypts. See zb-encrypt(1).
import { growStdio } from '../lib/os/proc.js';
import { UsageError } from '../lib/errors.js';
import { run, parseArgs } from '../lib/cli/command.js';
import { encryptStream, decryptStream } from '../lib/filters/encrypt/encrypt.js';
import type { Kdf } from '../lib/filters/encrypt/openssl.js';

const help = `Usage: $0 [OPTION]... < INPUT > OUTPUT
Encrypt a zb stream (or a plain zfs send stream) in the age v1 format; -d decrypts.

  -r, --recipient KEY        encrypt to an age public key (age1...); repeatable
  -R, --recipients-file FILE encrypt to the keys in FILE (one per line, # comments)
      --password-file FILE   passphrase (scrypt) from FILE (one trailing newline dropped);
                             $ZB_PASSWORD is used when no option names a key
      --scrypt-log-n N       scrypt work factor 2^N (default 18; small values for tests)
  -d, --decrypt              decrypt; the method comes from the stream header
  -i, --identity FILE        decrypt with the age secret keys in FILE (AGE-SECRET-KEY-1...)
      --raw                  write plain data (the .age file / decrypted bytes), and read
                             plain data; without it plain input is accepted when recognised
Legacy 'openssl enc' format (NOT authenticated; for the original tool's --cipher):
      --cipher NAME          e.g. aes-256-cbc, aes-256-ctr, camellia-256-cbc, chacha20
      --kdf pbkdf2|evp       key derivation (encrypt: pbkdf2; evp reads old backups)
      --md DIGEST            digest of the key derivation (default sha256; old backups: md5)
      --iter N               PBKDF2 iterations (default 10000)
      --help                 show this help
      --version              show the version

Examples:
  zb-send tank/data | zb-encrypt -R /etc/zfsbackup/recipients > data.zb
  zb-encrypt -d -i /root/backup.key < data.zb | zb-recv tank/restored
  zb-encrypt -d --raw --cipher aes-256-cbc --kdf evp --md md5 --password-file F < old.enc

Exit status: 0 success, 1 failure (wrong key, altered or truncated data), 2 usage.
`;

async function main(argv: string[]): Promise<void> {
  const o = parseArgs(argv, {
    string: ['password-file', 'scrypt-log-n', 'cipher', 'kdf', 'md', 'iter'],
    multi: ['recipient', 'recipients-file', 'identity'],
    boolean: ['decrypt', 'raw'],
    alias: { d: 'decrypt', r: 'recipient', R: 'recipients-file', i: 'identity' },
  });
  if (o._.length) throw new UsageError(`unexpected argument '${o._[0]}'`);
  const int = (k: string) => {
    if (o[k] === undefined) return undefined;
    if (!/^[1-9][0-9]*$/.test(o[k])) throw new UsageError(`--${k} needs a positive integer, not '${o[k]}'`);
    return Number(o[k]);
  };
  if (o.kdf !== undefined && o.kdf !== 'pbkdf2' && o.kdf !== 'evp') throw new UsageError(`--kdf is pbkdf2 or evp, not '${o.kdf}'`);
  const opts = {
    decrypt: o.decrypt, raw: o.raw, passwordFile: o['password-file'], recipients: o.recipient,
    recipientsFiles: o['recipients-file'], identityFiles: o.identity, scryptLogN: int('scrypt-log-n'),
    cipher: o.cipher, kdf: o.kdf as Kdf | undefined, md: o.md, iter: int('iter'),
  };
  const grown = growStdio();   // 1 MiB stdin/stdout pipes: fewer context switches for us and our neighbours
  await (o.decrypt ? decryptStream(opts) : encryptStream(opts));
  await grown;
}

run(main, help);
