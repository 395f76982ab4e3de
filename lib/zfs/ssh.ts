// The one shell quoting in the project: the command line a remote host's login shell (a
// POSIX sh: sh, dash, bash, ksh, zsh) runs for us over ssh. Every word is single-quoted, so
// nothing in a dataset name (spaces, quotes, $(…), ;, newlines) is ever run; a word that
// begins with '-' is still one word (zfs itself would read it as an option: names are
// checked for that before they get here, see remoteName()).
import { UsageError } from '../errors.js';

/** One word for sh: 'it'\''s' — inside single quotes sh interprets nothing. */
export function quote(word: string): string {
  if (word.includes('\0')) throw new UsageError('a NUL byte cannot be passed to a remote command');
  return /^[A-Za-z0-9_./=:,+@%-]+$/.test(word) && !word.startsWith('-') ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** argv as one command line for the remote shell. */
export function commandLine(argv: string[]): string {
  return argv.map(quote).join(' ');
}

/** A dataset (or snapshot) name given for a remote host: one zfs would never take as an option. */
export function remoteName(name: string, what = 'dataset'): string {
  if (!name || name.startsWith('-')) throw new UsageError(`${what} name '${name}' is not a zfs name (it must not be empty or begin with '-')`);
  return name;
}
