// The one shell quoting in the project: words for a POSIX sh (sh, dash, bash, ksh, zsh):
// the command line a remote host's login shell runs for us over ssh, and what --dry-run
// prints to paste. A word is left bare only when sh would take it as it is; else it is
// single-quoted, inside which sh interprets nothing (spaces, quotes, $(…), ;, newlines).
import { UsageError } from '../errors.js';

/** One word for sh: 'it'\''s'. */
export function shellQuote(word: string): string {
  if (word.includes('\0')) throw new UsageError('a NUL byte cannot be passed in a shell command line');
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** argv as one command line. */
export const shellLine = (argv: string[]): string => argv.map(shellQuote).join(' ');
