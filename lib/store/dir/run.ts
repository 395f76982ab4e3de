// One run of the directory store: its chunks in a private staging directory,
// chunks/.zb-partial.HOST.PID.NONCE, moved into chunks/ at publish after a run marker
// (.publish: the final names) is durable; abort removes all of it.
import { closeSync, existsSync, fsync as fsyncCb, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync,
  unlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { ZbError } from '../../errors.js';
import { writeFd } from '../../os/io.js';
import { CHUNK_RE } from '../map-check.js';
import { ioError, syncDir } from './fs.js';
import type { ChunkSink, StoreRun } from '../store.js';

const fsync = promisify(fsyncCb);
/** The staging directory of one run: chunks/.zb-partial.HOST.PID.NONCE. */
export const STAGE_RE = /^\.zb-partial\.(.+)\.(\d+)\.([0-9a-f]{8})$/;
/** In a staging directory: the names the run is about to publish into chunks/. */
export const MARKER = '.publish';

/** The run marker of a staging directory: undefined when there is none, null when it does not read. */
export function marker(stage: string): string[] | undefined | null {
  let text: string;
  try { text = readFileSync(join(stage, MARKER), 'utf8'); } catch (e: any) { return e.code === 'ENOENT' ? undefined : null; }
  try {
    const m = JSON.parse(text);
    return Array.isArray(m?.chunks) && m.chunks.every((n: unknown) => typeof n === 'string' && CHUNK_RE.test(n)) ? m.chunks : null;
  } catch { return null; }
}

export class DirRun implements StoreRun {
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
