// Names for a remote host's zfs: the remote command line is quoted by lib/os/shell.ts (the
// one shell quoting in the project), so nothing in a dataset name is ever run; a name that
// begins with '-' would still be one word, which zfs reads as an option: refused here.
import { UsageError } from '../errors.js';

/** A dataset (or snapshot) name given for a remote host: one zfs would never take as an option. */
export function remoteName(name: string, what = 'dataset'): string {
  if (!name || name.startsWith('-')) throw new UsageError(`${what} name '${name}' is not a zfs name (it must not be empty or begin with '-')`);
  return name;
}
