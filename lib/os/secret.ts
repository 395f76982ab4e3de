// Secrets come from files (or the environment), never from argv: passphrase
// files and age identity files, with a warning when others can read them.
import { readFileSync, statSync } from 'node:fs';
import { ZbError } from '../errors.js';
import { prog } from '../cli/command.js';

/** Read a key file whole; for secrets, warn on stderr when group or others may read it. */
export function readSecretFile(path: string, what: string, secret = true): Buffer {
  let data: Buffer, mode: number;
  try {
    mode = statSync(path).mode;
    data = readFileSync(path);
  } catch (e: any) {
    if (e.code === 'ENOENT') throw new ZbError(`${what} '${path}' does not exist`);
    if (e.code === 'EISDIR') throw new ZbError(`${what} '${path}' is a directory`);
    throw new ZbError(`cannot read ${what} '${path}': ${e.message}`);
  }
  if (secret && mode & 0o044)
    process.stderr.write(`${prog}: warning: ${what} '${path}' is readable by ` +
      `${mode & 0o004 ? 'others' : 'its group'} (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); ` +
      `run 'chmod 600 ${path}'\n`);
  if (data.length === 0) throw new ZbError(`${what} '${path}' is empty`);
  return data;
}

/**
 * A passphrase: the whole file minus one trailing newline (what `openssl -pass file:`
 * and `echo pw > file` agree on). A second line is refused rather than guessed at.
 */
export function readPassphraseFile(path: string): Buffer {
  let pw = readSecretFile(path, 'password file');
  if (pw[pw.length - 1] === 0x0a) pw = pw.subarray(0, -1);
  if (pw.length === 0) throw new ZbError(`password file '${path}' holds an empty passphrase`);
  if (pw.includes(0x0a))
    throw new ZbError(`password file '${path}' holds more than one line; the passphrase is the whole file minus one trailing newline`);
  return pw;
}

/** The passphrase from --password-file, else from $ZB_PASSWORD, else undefined. */
export function passphrase(file: string | undefined): Buffer | undefined {
  if (file !== undefined) return readPassphraseFile(file);
  const env = process.env.ZB_PASSWORD;
  if (env === undefined) return undefined;
  if (env === '') throw new ZbError('ZB_PASSWORD is set but empty');
  return Buffer.from(env, 'utf8');
}

/** Non-empty, non-comment lines of a text file (age recipients and identity files). */
export function keyLines(data: Buffer): string[] {
  return data.toString('utf8').split('\n').map(l => l.replace(/\r$/, '').trim())
    .filter(l => l !== '' && !l.startsWith('#'));
}
