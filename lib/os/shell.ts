// Words for a POSIX shell: what --dry-run prints must paste back as the same argv.

/** One word, quoted only when the shell would otherwise split, expand or glob it. */
export function shellQuote(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

/** An argv as a command line. */
export const shellLine = (argv: string[]): string => argv.map(shellQuote).join(' ');
