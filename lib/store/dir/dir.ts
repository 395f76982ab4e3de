// The directory store: DEST/PREFIX/map.json and DEST/PREFIX/chunks/. A run writes its
// chunks into a private staging directory, chunks/.zb-partial.HOST.PID.NONCE, and moves
// them into chunks/ at publish, after a run marker (.publish, the final names) is durable.
// A run is failed when its host is this one and its pid is dead. The map is replaced by
// rename (temp file, fsync, rename, fsync of the directory), under lock.ts's lock.
import { closeSync, fsync as fsyncCb, lstatSync, openSync, readdirSync, readFileSync, renameSync, rmdirSync,
  statSync, unlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CommittedError, DiskFullError, UsageError, ZbError } from '../../errors.js';
import { BUF, diskFull, readFd, writeFd } from '../../os/io.js';
import { alive } from '../../os/proc.js';
import { CHUNK_RE } from '../map-check.js';
import { lock } from './lock.js';
import { DirRun, MARKER, marker, STAGE_RE } from './run.js';
import { ioError, mkdirs, syncDir } from './fs.js';
import type { ChunkStore, RunInfo, Stat, StoreRun } from '../store.js';

const fsync = promisify(fsyncCb);

export class DirStore implements ChunkStore {
  readonly where: string;
  readonly mapName: string;
  private cdir: string;
  /** DEST must exist (an unmounted disk must not fill the root filesystem). */
  constructor(readonly dest: string, readonly prefix: string) {
    let st;
    try { st = statSync(dest); } catch { throw new ZbError(`destination '${dest}' does not exist (is the disk mounted?)`); }
    if (!st.isDirectory()) throw new ZbError(`destination '${dest}' is not a directory`);
    if (!prefix || prefix.split('/').some(c => c === '..' || c === '')) throw new UsageError(`invalid prefix '${prefix}'`);
    this.where = join(dest, prefix);
    this.mapName = join(this.where, 'map.json');
    this.cdir = join(this.where, 'chunks');
  }

  async readMap(): Promise<string | undefined> {
    try { return readFileSync(this.mapName, 'utf8'); } catch (e: any) {
      if (e.code === 'ENOENT') return undefined;
      throw new ZbError(`cannot read '${this.mapName}': ${e.message}`);
    }
  }

  async writeMap(text: string): Promise<void> {
    const tmp = join(this.where, `.map.json.${process.pid}.${randomBytes(4).toString('hex')}`);
    const fd = openSync(tmp, 'wx', 0o644);
    try {
      await writeFd(fd, [Buffer.from(text)]);
      await fsync(fd);
      closeSync(fd);
      renameSync(tmp, this.mapName);
    } catch (e: any) {
      try { closeSync(fd); } catch { /* closed */ }
      try { unlinkSync(tmp); } catch { /* gone */ }
      throw e instanceof ZbError ? e : new ZbError(`cannot write the map in '${this.where}': ${e.message}`);
    }
    try { syncDir(this.where); } catch (e: any) { throw new CommittedError(`map written, but syncing '${this.where}' failed: ${e.message}`); }
  }

  async lock(waitSec: number): Promise<() => Promise<void>> {
    let release: () => void;
    try { release = await lock(this.where, waitSec); } catch (e: any) {
      if (e.code === 'EROFS') throw new ZbError(`destination '${this.dest}' is read-only`);
      const full = diskFull(e);
      throw full ? new DiskFullError(full) : e;
    }
    return async () => release();
  }

  async prepareWrite(): Promise<void> {
    try { mkdirs(this.dest, join(this.prefix, 'chunks')); } catch (e: any) {
      if (e.code === 'EROFS') throw new ZbError(`destination '${this.dest}' is read-only`);
      throw ioError(e, `cannot create '${this.cdir}'`);
    }
  }

  async begin(stem: string): Promise<StoreRun> { return new DirRun(this.cdir, stem); }

  async stat(key: string): Promise<Stat> {
    let st;
    try { st = statSync(join(this.where, key)); } catch { return { kind: 'missing' }; }
    return st.isFile() ? { kind: 'file', size: st.size } : { kind: 'other' };
  }

  /** Read in BUF blocks, the next read running while the caller uses the last. */
  async *read(key: string, range: { start?: number; end?: number } = {}): AsyncIterable<Buffer> {
    const path = join(this.where, key);
    let fd: number;
    try { fd = openSync(path, 'r'); } catch (e: any) { throw new ZbError(`cannot read '${path}': ${e.message}`); }
    let pos = range.start ?? 0;
    const end = range.end ?? Infinity;
    const next = () => {
      const n = Math.min(BUF, end - pos), b = Buffer.allocUnsafe(Math.max(n, 0));
      return n > 0 ? readFd(fd, b, 0, n, pos).then(got => b.subarray(0, got)) : Promise.resolve(b);
    };
    try {
      let pending = next();
      for (;;) {
        const b = await pending;
        if (!b.length) return;
        pos += b.length;
        pending = next();
        pending.catch(() => {});
        yield b;
      }
    } finally { closeSync(fd); }
  }

  async list(): Promise<string[]> {
    try { return readdirSync(this.cdir); } catch { return []; }
  }

  async remove(key: string): Promise<void> {
    try { unlinkSync(join(this.where, key)); } catch (e: any) { if (e.code !== 'ENOENT') throw e; }
  }

  async runs(): Promise<RunInfo[]> {
    const out: RunInfo[] = [];
    for (const f of await this.list()) {
      const m = STAGE_RE.exec(f), p = join(this.cdir, f);
      if (!m) continue;
      try { if (!lstatSync(p).isDirectory()) continue; } catch { continue; }
      const ours = m[1] === hostname();
      out.push({
        name: `chunks/${f}`,
        state: !ours ? 'unknown' : alive(Number(m[2])) ? 'running' : 'failed',
        who: ours ? `pid ${m[2]}` : `host '${m[1]}'`,
        listed: marker(p),
        remove: async () => {
          for (const g of readdirSync(p)) if (CHUNK_RE.test(g) || g === MARKER || g === `${MARKER}.tmp`) unlinkSync(join(p, g));
          try { rmdirSync(p); return true; } catch { return false; }   // holds files that are not ours: leave it
        },
      });
    }
    return out;
  }
}

