// File-system steps of the directory store: errors as one line, fsync of a directory,
// mkdir -p that says a read-only file system is read-only.
import { closeSync, fsyncSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { DiskFullError, ZbError } from '../../errors.js';
import { diskFull } from '../../os/io.js';

export function ioError(e: any, what: string): ZbError {
  if (e instanceof ZbError) return e;
  const full = diskFull(e);
  return full ? new DiskFullError(full) : new ZbError(`${what}: ${e?.message ?? e}`);
}

export function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

/** mkdir -p of DEST/REL, one level at a time: Node's recursive mkdir reports a read-only
 *  file system as ENOENT, and access(2) does not see zfs-fuse's readonly=on. */
export function mkdirs(dest: string, rel: string): void {
  let p = dest;
  for (const c of rel.split('/')) {
    p = join(p, c);
    try { mkdirSync(p); } catch (e: any) { if (e.code !== 'EEXIST') throw e; }
  }
}

