// The directory store: DEST/PREFIX/map.json and DEST/PREFIX/chunks/. A run writes its
// chunks into a private staging directory, chunks/.zb-partial.HOST.PID.NONCE, and moves
// them into chunks/ at publish, after a run marker (.publish, the final names) is durable.
// A run is failed when its host is this one and its pid is dead. The map is replaced by
// rename (temp file, fsync, rename, fsync of the directory), under lock.ts's lock.
import { closeSync, existsSync, fsync as fsyncCb, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmdirSync,
  rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { CommittedError, DiskFullError, UsageError, ZbError } from '../../errors.js';
import { BUF, diskFull, readFd, writeFd } from '../../os/io.js';
import { alive } from '../../os/proc.js';
import { CHUNK_RE } from '../map-check.js';
import { lock } from './lock.js';
import type { ChunkSink, ChunkStore, RunInfo, Stat, StoreRun } from '../store.js';

const fsync = promisify(fsyncCb);
/** The staging directory of one run: chunks/.zb-partial.HOST.PID.NONCE. */
const STAGE_RE = /^\.zb-partial\.(.+)\.(\d+)\.([0-9a-f]{8})$/;
/** In a staging directory: the names the run is about to publish into chunks/. */
const MARKER = '.publish';

function ioError(e: any, what: string): ZbError {
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
function mkdirs(dest: string, rel: string): void {
  let p = dest;
  for (const c of rel.split('/')) {
    p = join(p, c);
    try { mkdirSync(p); } catch (e: any) { if (e.code !== 'EEXIST') throw e; }
  }
}

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

/** The run marker of a staging directory: undefined when there is none, null when it does not read. */
function marker(stage: string): string[] | undefined | null {
  let text: string;
  try { text = readFileSync(join(stage, MARKER), 'utf8'); } catch (e: any) { return e.code === 'ENOENT' ? undefined : null; }
  try {
    const m = JSON.parse(text);
    return Array.isArray(m?.chunks) && m.chunks.every((n: unknown) => typeof n === 'string' && CHUNK_RE.test(n)) ? m.chunks : null;
  } catch { return null; }
}

class DirRun implements StoreRun {
  private staging: string;
  private nonce = randomBytes(4).toString('hex');
  private published: string[] = [];
  private open = new Set<number>();
  constructor(private cdir: string, _stem: string) {
    this.staging = join(cdir, `.zb-partial.${hostname()}.${process.pid}.${this.nonce}`);
    mkdirSync(this.staging);
  }

  async create(name: string): Promise<ChunkSink> {
    let fd: number;
    try { fd = openSync(join(this.staging, name), 'wx', 0o600); } catch (e) { throw ioError(e, 'cannot create a chunk file'); }
    this.open.add(fd);
    return {
      write: async (b) => { try { await writeFd(fd, [b]); } catch (e) { throw ioError(e, 'cannot write a chunk file'); } },
      close: async () => {
        try { await fsync(fd); } catch (e) { throw ioError(e, 'cannot sync a chunk file'); } finally { this.open.delete(fd); closeSync(fd); }
      },
    };
  }

  /** A name is taken when a file has it in chunks/ (a replaced entry's chunk, a stray file)
   *  or another run's marker lists it: then every chunk of the run gets the run's tag
   *  (NAME.rNONCE.NNN). First the marker, synced, so that a crash leaves proof of what is ours. */
  async publish(names: string[]): Promise<string[]> {
    syncDir(this.staging);
    const others = new Set<string>();
    for (const f of readdirSync(this.cdir))
      if (f !== basename(this.staging) && STAGE_RE.test(f)) for (const n of marker(join(this.cdir, f)) ?? []) others.add(n);
    const isTaken = (n: string) => existsSync(join(this.cdir, n)) || others.has(n);
    const taken = names.some(isTaken);
    const final = names.map(n => taken ? n.replace(/(\.\d{3,})$/, `.r${this.nonce}$1`) : n);
    if (final.some(isTaken)) throw new ZbError(`chunk names of this run are taken in '${this.cdir}'`);
    const tmp = join(this.staging, `${MARKER}.tmp`), fd = openSync(tmp, 'wx', 0o600);
    try { writeFileSync(fd, JSON.stringify({ chunks: final }) + '\n'); fsyncSync(fd); } finally { closeSync(fd); }
    renameSync(tmp, join(this.staging, MARKER));
    syncDir(this.staging);
    names.forEach((n, i) => {
      renameSync(join(this.staging, n), join(this.cdir, final[i]));
      this.published.push(final[i]);
    });
    syncDir(this.cdir);
    return final;
  }

  /** Synchronous inside (a signal handler may not get another turn of the event loop). */
  async abort(): Promise<void> {
    for (const fd of this.open) try { closeSync(fd); } catch { /* closed */ }
    this.open.clear();
    for (const n of this.published.splice(0)) try { unlinkSync(join(this.cdir, n)); } catch { /* gone */ }
    rmSync(this.staging, { recursive: true, force: true });
  }

  async done(): Promise<void> {
    try { unlinkSync(join(this.staging, MARKER)); } catch { /* none: nothing was published */ }
    try { rmdirSync(this.staging); } catch { /* not ours to force */ }
  }
}
