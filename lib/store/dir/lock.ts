// The writer lock of a directory store: DIR/map.json.lock, created with O_EXCL, holding
// pid, host, time and a nonce. A lock of a dead process of this host is taken over; one of
// another host is never guessed at (the error names it).
import { closeSync, fsync as fsyncCb, linkSync, openSync, readFileSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ZbError } from '../../errors.js';
import { writeFd } from '../../os/io.js';
import { alive } from '../../os/proc.js';

const fsync = promisify(fsyncCb);
export interface LockInfo { pid: number; host: string; time: string; nonce: string }
const pause = (ms: number) => new Promise(r => setTimeout(r, ms));

function readLock(p: string): LockInfo | null {
  try { const l = JSON.parse(readFileSync(p, 'utf8')); return typeof l.pid === 'number' ? l : null; }
  catch { return null; }
}

/** Take the lock of `dir`, waiting up to waitSec; returns the release function. */
export async function lock(dir: string, waitSec: number): Promise<() => void> {
  const p = join(dir, 'map.json.lock');
  const me: LockInfo = { pid: process.pid, host: hostname(), time: new Date().toISOString(), nonce: randomBytes(8).toString('hex') };
  const deadline = Date.now() + waitSec * 1000;
  for (let delay = 20; ; delay = Math.min(delay * 2, 500)) {
    let fd: number | undefined;
    try { fd = openSync(p, 'wx', 0o644); } catch (e: any) {
      if (e.code !== 'EEXIST') throw Object.assign(new ZbError(`cannot create the lock '${p}': ${e.message}`), { code: e.code, errno: e.errno });
    }
    if (fd !== undefined) {
      try { await writeFd(fd, [Buffer.from(JSON.stringify(me) + '\n')]); await fsync(fd); }
      catch (e) { closeSync(fd); try { unlinkSync(p); } catch { /* gone */ } throw e; }
      closeSync(fd);
      return () => { const l = readLock(p); if (l?.nonce === me.nonce) try { unlinkSync(p); } catch { /* gone */ } };
    }
    const held = readLock(p);
    let age = 0;
    try { age = Date.now() - statSync(p).mtimeMs; } catch { continue; }
    if ((held && held.host === me.host && !alive(held.pid)) || (!held && age > 60_000)) { takeOver(p, held); continue; }
    if (Date.now() >= deadline) {
      const who = held ? `pid ${held.pid} on host '${held.host}' since ${held.time}` : 'an unreadable lock file';
      throw new ZbError(`'${p}' is held by ${who}; waited ${waitSec} s (--lock-wait). ` +
        `If no backup to this directory is running, remove that file`);
    }
    await pause(delay);
  }
}

/** Remove a stale lock without ever removing a live one: move it aside, check it is the
 *  stale one we looked at, and put it back (link, which never overwrites) if it is not. */
function takeOver(p: string, stale: LockInfo | null): void {
  const aside = `${p}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
  try { renameSync(p, aside); } catch { return; }
  const got = readLock(aside);
  const same = stale ? got?.nonce === stale.nonce : got === null;
  if (!same) { try { linkSync(aside, p); } catch { /* a third one holds it now */ } }
  try { unlinkSync(aside); } catch { /* gone */ }
}
