// zb-chunk-dir: a zb stream into chunk files under DEST/PREFIX/chunks/ plus a map entry
// (committed only after the end frame, with every chunk durable), and back out again,
// each chunk's sha256 checked before any of its bytes go downstream. See zb-chunk-dir(1).
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, renameSync, rmdirSync, rmSync, statSync,
  unlinkSync, writeFileSync } from 'node:fs';
import { fsync as fsyncCb, fsyncSync } from 'node:fs';
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { ZbError, UsageError, prog, signalStatus } from './cli.js';
import { BUF, readFd, writeFd, diskFull } from './io.js';
import { ZFS_MAGIC, ZbReader, ZbWriter, isZfsStream, type Meta } from './stream.js';
import { CommittedError, addEntry, alive, byGuid, datasets, entries, entryName, findEntry, isIncremental, isLegacy, lock, mapAbsent, MAP_VERSION, noBackup, VERSION_KEY, parentOf, metaOf, readMap,
  referenced, syncDir, writeMap, type AnyEntry, type ChunkRef, type Entry, type MapDoc } from './map.js';
import { CHUNK_RE, mapProblem } from './map-check.js';
import { legacyChunkPath, legacyFilters, type LegacyMd } from './legacy.js';

export { CHUNK_RE };
const fsync = promisify(fsyncCb);
/** The staging directory of one run: chunks/.zb-partial.HOST.PID.NONCE. */
const STAGE_RE = /^\.zb-partial\.(.+)\.(\d+)\.([0-9a-f]{8})$/;
/** In a staging directory: the names the run is about to publish into chunks/ (its run marker). */
const MARKER = '.publish';

function ioError(e: any, what: string): ZbError {
  if (e instanceof ZbError) return e;
  return new ZbError(diskFull(e) ?? `${what}: ${e?.message ?? e}`);
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

/** DEST/PREFIX; DEST must exist (an unmounted disk must not fill the root filesystem). */
export function storeDir(dest: string, prefix: string): string {
  let st;
  try { st = statSync(dest); } catch { throw new ZbError(`destination '${dest}' does not exist (is the disk mounted?)`); }
  if (!st.isDirectory()) throw new ZbError(`destination '${dest}' is not a directory`);
  if (!prefix || prefix.split('/').some(c => c === '..' || c === '')) throw new UsageError(`invalid prefix '${prefix}'`);
  return join(dest, prefix);
}

/** guid, creation and base of a plain zfs send stream, from its BEGIN record. */
function zfsBegin(b: Buffer): Partial<Meta> | undefined {
  if (b.length < 56 || !isZfsStream(b)) return undefined;
  const le = b.readBigUInt64LE(8) === ZFS_MAGIC;
  const u64 = (o: number) => le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o);
  const to = u64(40), from = u64(48), compound = (u64(16) & 3n) === 2n;
  return { ...(to ? { guid: String(to) } : {}), creation: Number(u64(24)),
    base: from ? { name: '', guid: String(from) } : null, ...(compound ? { recursive: true } : {}) };
}

/** The header's source metadata, or --dataset/--snapshot for input without it. */
async function sourceMeta(r: ZbReader, o: StoreOptions): Promise<Meta> {
  const m: Meta = { ...r.meta, filters: [...r.meta.filters] };
  const given = o.dataset !== undefined && o.snapshot !== undefined;
  if (r.plain) Object.assign(m, zfsBegin(Buffer.from(await r.peek(312))) ?? {});
  if ((r.plain || m.plain || !m.dataset || !m.snapshot || !m.guid) && !given)
    throw new ZbError('the input has no source metadata (dataset, snapshot, guid; it does not come from zb-send): give --dataset and --snapshot');
  for (const k of ['dataset', 'snapshot'] as const) {
    const v = o[k];
    if (v === undefined) continue;
    if (m[k] !== undefined && m[k] !== v && !m.plain) throw new UsageError(`--${k} '${v}' differs from the stream's '${m[k]}'`);
    m[k] = v;
  }
  delete m.plain;
  if (/[@/\0]/.test(m.snapshot!) || /[@\0]/.test(m.dataset!) || m.dataset!.startsWith('/') || m.snapshot!.startsWith('.'))
    throw new UsageError(`invalid dataset or snapshot name '${m.dataset}@${m.snapshot}'`);
  return m;
}

/** The chunks of one run: written into a private staging directory, moved into
 *  chunks/ at commit; abort() removes every file this run made. Input pieces (often
 *  64 KiB frames) are gathered into 1 MiB writes; one write runs in the thread pool
 *  while the next buffer is hashed and filled. */
class Run {
  readonly staging: string;
  readonly nonce = randomBytes(4).toString('hex');
  chunks: ChunkRef[] = [];
  private published: string[] = [];
  private fd?: number;
  private hash?: Hash;
  private size = 0;          // bytes of the open chunk handed to write
  private bufs = [Buffer.allocUnsafe(BUF), Buffer.allocUnsafe(BUF)];
  private cur = 0;
  private fill = 0;
  private pending: Promise<void> = Promise.resolve();
  total = 0;
  constructor(private cdir: string, private stem: string, private chunkSize: number) {
    this.staging = join(cdir, `.zb-partial.${hostname()}.${process.pid}.${this.nonce}`);
    mkdirSync(this.staging);
  }
  private name(i: number) { return `${this.stem}.${String(i).padStart(3, '0')}`; }

  async write(b: Buffer): Promise<void> {
    while (b.length) {
      const n = Math.min(b.length, BUF - this.fill, this.chunkSize - this.size - this.fill);
      b.copy(this.bufs[this.cur], this.fill, 0, n);
      this.fill += n; b = b.subarray(n);
      if (this.fill === BUF || this.size + this.fill === this.chunkSize) await this.flush();
    }
  }
  private async flush(): Promise<void> {
    if (!this.fill) return;
    const buf = this.bufs[this.cur].subarray(0, this.fill);
    await this.pending;                       // in order, and the other buffer is free again
    if (this.fd === undefined) {
      try { this.fd = openSync(join(this.staging, this.name(this.chunks.length)), 'wx', 0o600); }
      catch (e) { throw ioError(e, 'cannot create a chunk file'); }
      this.hash = createHash('sha256'); this.size = 0;
    }
    this.pending = writeFd(this.fd, [buf]);
    this.pending.catch(() => {});
    this.hash!.update(buf);
    this.size += this.fill; this.total += this.fill; this.fill = 0; this.cur ^= 1;
    if (this.size === this.chunkSize) await this.close();
  }
  private async close(): Promise<void> {
    await this.pending;
    try { await fsync(this.fd!); } catch (e) { throw ioError(e, 'cannot sync a chunk file'); }
    closeSync(this.fd!); this.fd = undefined;
    this.chunks.push({ name: this.name(this.chunks.length), size: this.size, sha256: this.hash!.digest('hex') });
    this.size = 0;
  }
  /** Every chunk on disk and synced, the staging directory too. */
  async finish(): Promise<void> {
    await this.flush();
    if (this.fd !== undefined) await this.close();
    syncDir(this.staging);
  }
  /** Move the chunks into chunks/ (under the lock). A file there is never overwritten: when
   *  a name is taken (a replaced entry's chunks, a stray file, or listed by another run's
   *  marker), every chunk of the run gets the run's tag (.rNONCE.NNN). First the run marker: the final names, written and synced
   *  in the staging directory, so that a crash from here on leaves proof of what is ours. */
  publish(): void {
    const others = listed(this.cdir, basename(this.staging));
    const isTaken = (n: string) => existsSync(join(this.cdir, n)) || others.has(n);
    const taken = this.chunks.some(c => isTaken(c.name));
    const final = this.chunks.map(c => taken ? c.name.replace(/(\.\d{3,})$/, `.r${this.nonce}$1`) : c.name);
    if (final.some(isTaken)) throw new ZbError(`chunk names of this run are taken in '${this.cdir}'`);
    const tmp = join(this.staging, `${MARKER}.tmp`), fd = openSync(tmp, 'wx', 0o600);
    try { writeFileSync(fd, JSON.stringify({ chunks: final }) + '\n'); fsyncSync(fd); } finally { closeSync(fd); }
    renameSync(tmp, join(this.staging, MARKER));
    syncDir(this.staging);
    this.chunks.forEach((c, i) => {
      renameSync(join(this.staging, c.name), join(this.cdir, final[i]));
      this.published.push(final[i]);
      c.name = final[i];
    });
    syncDir(this.cdir);
  }
  /** Remove what this run made (synchronous: also called from a signal handler). The open
   *  chunk's fd is left alone: a write may still be running on it in the thread pool, and a
   *  closed fd number can be reused by the next open. */
  abort(): void {
    for (const n of this.published.splice(0)) try { unlinkSync(join(this.cdir, n)); } catch { /* gone */ }
    rmSync(this.staging, { recursive: true, force: true });
  }
  /** abort(), after the last write has settled, closing the open chunk. */
  async discard(): Promise<void> {
    await this.pending.catch(() => {});
    if (this.fd !== undefined) { try { closeSync(this.fd); } catch { /* closed */ } this.fd = undefined; }
    this.abort();
  }
  /** After the map is committed: the marker, then the staging directory. */
  done(): void {
    try { unlinkSync(join(this.staging, MARKER)); } catch { /* none: nothing was published */ }
    try { rmdirSync(this.staging); } catch { /* not ours to force */ }
  }
}

/** The run marker of a staging directory: the names it published or was about to. Undefined
 *  when there is none (the run died before publishing) or it does not read as one. */
function marker(stage: string): string[] | undefined | null {
  let text: string;
  try { text = readFileSync(join(stage, MARKER), 'utf8'); } catch (e: any) { return e.code === 'ENOENT' ? undefined : null; }
  try {
    const m = JSON.parse(text);
    return Array.isArray(m?.chunks) && m.chunks.every((n: unknown) => typeof n === 'string' && CHUNK_RE.test(n)) ? m.chunks : null;
  } catch { return null; }
}

/** A staging directory of a run of this host that no longer runs. */
function deadRun(cdir: string, f: string): boolean {
  const m = STAGE_RE.exec(f);
  if (!m || m[1] !== hostname() || alive(Number(m[2]))) return false;
  try { return lstatSync(join(cdir, f)).isDirectory(); } catch { return false; }
}

/** Remove what failed runs of ours left, and nothing else: the staging directory of a dead
 *  run of this host, and the chunks its run marker lists that the (valid) map does not
 *  reference (it died between publishing them and committing the map). A chunk file that
 *  no marker lists is never deleted, whatever the map says: verify lists it. (On an object
 *  store the same rule holds with a marker object per run, written before its first chunk.) */
export async function cleanup(base: string, lockWait: number): Promise<string[]> {
  const release = await lock(base, lockWait);
  try { return sweep(join(base, 'chunks'), referenced(readMap(base))); } finally { release(); }
}

/** cleanup() under a lock already held. Also run at every commit, before the map changes, so
 *  that a run that died between committing and removing its marker is seen while the map
 *  still references its chunks (it committed: they are kept, whatever happens to its entry). */
function sweep(cdir: string, refs: Set<string>): string[] {
  const gone: string[] = [];
  for (const f of readdirSync(cdir)) {
    if (!deadRun(cdir, f)) continue;
    const p = join(cdir, f), listed = marker(p);
    if (listed === null) continue;          // a marker that does not read: leave the run as it is
    if (!(listed ?? []).some(n => refs.has(n))) {   // none in the map: it did not commit
      for (const n of listed ?? []) {
        try { if (lstatSync(join(cdir, n)).isFile()) { unlinkSync(join(cdir, n)); gone.push(n); } } catch { /* never published */ }
      }
    }
    for (const g of readdirSync(p)) if (CHUNK_RE.test(g) || g === MARKER || g === `${MARKER}.tmp`) unlinkSync(join(p, g));
    try { rmdirSync(p); gone.push(f); } catch { /* holds files that are not ours: leave it */ }
  }
  return gone;
}

/** The names the run markers of other staging directories in cdir list: taken. */
function listed(cdir: string, mine: string): Set<string> {
  const s = new Set<string>();
  for (const f of readdirSync(cdir)) if (f !== mine && STAGE_RE.test(f)) for (const n of marker(join(cdir, f)) ?? []) s.add(n);
  return s;
}

/** What to do with a stream whose guid is stored. Skip it when the stored entry's chain is
 *  intact and it is the same kind (both full, or both incremental on the same parent guid);
 *  otherwise replace it (`replace` says why) — except that an intact entry is never
 *  replaced by an incremental that could not be restored (its base is not in the map, or
 *  the base's chain is broken): `skip` then says why nothing was written. */
function decide(o: StoreOptions, doc: MapDoc, ds: string, old: Entry, meta: Meta): { skip?: string; replace?: string; warn?: boolean } {
  const bad = chainProblem(o.dest, o.prefix, doc, ds, old);
  if (bad) return { replace: bad, warn: true };
  if (old.parent?.guid === meta.base?.guid) return { skip: '' };
  const on = (p: { name: string; guid: string }) => `an incremental on '${p.name || p.guid}'`;
  const was = old.parent ? on(old.parent) : 'a full', now = meta.base ? on(meta.base) : 'a full';
  if (meta.base) {
    const base = byGuid(doc, ds, meta.base.guid);
    const why = base ? chainProblem(o.dest, o.prefix, doc, ds, base) : `its base (guid ${meta.base.guid}) is not in the map`;
    if (why) return { skip: ` as ${was}, which restores; this stream, ${now}, would not restore (${why})`, warn: true };
  }
  return { replace: `it was ${was}, this is ${now}` };
}

export interface StoreOptions {
  dest: string; prefix: string; chunkSize: number; lockWait: number;
  dataset?: string; snapshot?: string; verbose?: boolean;
}

/** The map entry of a stored stream. */
function entryOf(meta: Meta, chunks: ChunkRef[], bytes: number): Entry {
  return {
    name: meta.snapshot!, guid: meta.guid ?? '', createtxg: meta.createtxg, creation: meta.creation,
    incremental: !!meta.base, parent: meta.base ?? null, ...(meta.intermediates ? { intermediates: true } : {}),
    recursive: !!meta.recursive, ...(meta.raw ? { raw: true } : {}), size: meta.size ?? null, filters: meta.filters,
    chunks, bytes, host: meta.host, time: meta.time, written: new Date().toISOString(),
  };
}

/** Store the zb stream on fd 0. Returns what to tell the user ('warning: ...' when the store
 *  was found broken, or the stream not stored because it would not restore). */
export async function store(o: StoreOptions): Promise<string> {
  const base = storeDir(o.dest, o.prefix), cdir = join(base, 'chunks');
  const first = readMap(base);           // a map that does not validate stops us before any change
  const r = await ZbReader.open(0, { plain: o.dataset !== undefined && o.snapshot !== undefined ? 'any' : 'zfs' });
  const meta = await sourceMeta(r, o);
  const ds = meta.dataset!, label = `${ds}@${meta.snapshot}`;
  const odd = mapProblem(JSON.parse(JSON.stringify({ [ds]: { snapshots: [entryOf(meta, [], 0)] } })), { key: VERSION_KEY, max: MAP_VERSION });
  if (odd) throw new ZbError(`the stream's header cannot make a valid map entry: ${odd.replace(/\.snapshots\[0\]/, '@' + meta.snapshot)}`);
  const stored = meta.guid ? byGuid(first, ds, meta.guid) : undefined;
  const early = stored && decide(o, first, ds, stored, meta);
  if (early && early.skip !== undefined) {
    for await (const _ of r.payload()) { /* read to the end frame: the sender must not see a broken pipe */ }
    return `${early.warn ? 'warning: ' : ''}${label} (guid ${meta.guid}) is already stored in '${base}'${early.skip}; nothing written`;
  }
  try { mkdirs(o.dest, join(o.prefix, 'chunks')); await cleanup(base, o.lockWait); } catch (e: any) {
    if (e.code === 'EROFS') throw new ZbError(`destination '${o.dest}' is read-only`);
    const full = diskFull(e);
    if (full) throw new ZbError(`${full} in '${base}'`);
    throw ioError(e, `cannot create '${cdir}'`);
  }
  const stem = `${ds.replace(/\//g, '_')}@${meta.snapshot}.${meta.guid ?? 't' + Date.now()}`;
  const run = new Run(cdir, stem, o.chunkSize);
  let release: (() => void) | undefined;
  const onSignal = (sig: NodeJS.Signals) => { run.abort(); release?.(); process.exit(signalStatus(sig)); };
  const sigs: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of sigs) process.on(s, onSignal);
  try {
    for await (const b of r.payload()) await run.write(b);
    await run.finish();
    release = await lock(base, o.lockWait);
    const doc = readMap(base);
    sweep(cdir, referenced(doc));
    const now = meta.guid ? byGuid(doc, ds, meta.guid) : undefined;
    const late = now && decide(o, doc, ds, now, meta);
    if (late && late.skip !== undefined) {
      await run.discard();
      return `${late.warn ? 'warning: ' : ''}${label} (guid ${meta.guid}) was stored by another run meanwhile${late.skip}; nothing written`;
    }
    run.publish();
    const old = addEntry(doc, ds, entryOf(meta, run.chunks, run.total));
    await writeMap(base, doc);
    run.done();
    const what = `${run.chunks.length} chunk(s), ${run.total} bytes in '${base}'`;
    if (!old) return `stored ${label}: ${what}`;
    return `${late && late.warn ? 'warning: ' : ''}replaced the entry of ${ds}@${old.name} (guid ${old.guid}): ${late && late.replace}; stored ${what} (the old entry's chunk files are kept: --verify lists them)`;
  } catch (e: any) {
    // the map is renamed into place (only its directory's fsync failed): the run committed, and
    // its marker goes, so that its chunks are never taken for a failed run's (at worst, were the
    // rename lost in a crash, they are files no marker lists: kept, and listed by verify)
    if (e instanceof CommittedError) { run.done(); throw e; }
    await run.discard();
    const full = diskFull(e) ?? (e instanceof ZbError && /^(no space left on device|disk quota exceeded)$/.test(e.message) ? e.message : null);
    if (full) throw new ZbError(`${full} in '${base}'`);
    throw ioError(e, 'cannot store the stream');
  } finally {
    release?.();
    for (const s of sigs) process.off(s, onSignal);
  }
}

/** Read a file in BUF blocks, the next read running while the caller uses the last. */
async function* blocks(fd: number): AsyncGenerator<Buffer> {
  const bufs = [Buffer.allocUnsafe(BUF), Buffer.allocUnsafe(BUF)];
  let i = 0, pending = readFd(fd, bufs[0]);
  for (;;) {
    const n = await pending;
    if (n === 0) return;
    const cur = bufs[i]; i ^= 1;
    pending = readFd(fd, bufs[i]);
    pending.catch(() => {});
    yield cur.subarray(0, n);
  }
}

/** One chunk to read back: its path, the name to show, what the map says of it. */
export interface ChunkFile { path: string; label: string; size?: number; sha256?: string }

/** Hash a file (and pass its blocks to `each`); returns sha256 and size. */
async function hashFile(path: string, each?: (b: Buffer) => Promise<void>): Promise<{ sha256: string; size: number }> {
  const fd = openSync(path, 'r'), h = createHash('sha256');
  let size = 0;
  try {
    for await (const b of blocks(fd)) { const w = each?.(b); h.update(b); size += b.length; await w; }
  } finally { closeSync(fd); }
  return { sha256: h.digest('hex'), size };
}

/** Check a chunk is there with its recorded size; returns the problem, if any.
 *  `of` (e.g. tank/data@s2) is named after the chunk when given. */
export function chunkPresent(c: ChunkFile, of?: string): string | undefined {
  const what = `chunk '${c.label}'${of ? ` of ${of}` : ''}`;
  let st;
  try { st = statSync(c.path); } catch { return `${what} is missing`; }
  if (!st.isFile()) return `${what} is not a regular file`;
  if (c.size !== undefined && st.size !== c.size) return `${what} has ${st.size} bytes, the map says ${c.size}`;
  return undefined;
}

/** The chunk files of an entry (no filters read, nothing opened). */
export function chunkFilesOf(dest: string, prefix: string, e: AnyEntry): ChunkFile[] {
  if (isLegacy(e)) return e.chunks.map(c => ({ path: legacyChunkPath(dest, prefix, c), label: String(c) }));
  return e.chunks.map(c => ({ path: join(dest, prefix, 'chunks', c.name), label: c.name, size: c.size, sha256: c.sha256 }));
}

/** What stands between the map and a restore of `e`: walks its chain from the full up to
 *  `e` and checks each chunk's presence and recorded size (no hashing; the original's
 *  entries, which record no sizes, by presence only). The first problem, or undefined. */
export function chainProblem(dest: string, prefix: string, doc: MapDoc, dataset: string, e: AnyEntry): string | undefined {
  const list = entries(doc, dataset), chain = [e];
  while (isIncremental(chain[0])) {
    const c = chain[0], p = parentOf(list, c);
    if (!p) {
      const pn = isLegacy(c) ? `'${c.parent}'` : `'${c.parent?.name}' (guid ${c.parent?.guid})`;
      return `${dataset}@${entryName(c)} is an incremental on ${pn}, which is not in the map`;
    }
    if (chain.includes(p)) return `${dataset}@${entryName(p)} is part of a cycle of incrementals`;
    chain.unshift(p);
  }
  for (const x of chain) {
    let files: ChunkFile[];
    try { files = chunkFilesOf(dest, prefix, x); } catch (err: any) { return `${dataset}@${entryName(x)}: ${err.message}`; }
    for (const c of files) { const bad = chunkPresent(c, `${dataset}@${entryName(x)}`); if (bad) return bad; }
  }
  return undefined;
}

/** Hash a chunk fully and compare with the map. */
export async function chunkIntact(c: ChunkFile): Promise<string | undefined> {
  const bad = chunkPresent(c);
  if (bad || !c.sha256) return bad;
  const h = await hashFile(c.path);
  return h.sha256 === c.sha256 && h.size === c.size ? undefined : `chunk '${c.label}' is corrupt (sha256 ${h.sha256}, the map says ${c.sha256})`;
}

/** Where a stored snapshot is and what header re-emits it. */
export function source(dest: string, prefix: string, dataset: string, e: AnyEntry, legacyMd?: LegacyMd): { meta: Meta; chunks: ChunkFile[] } {
  if (!isLegacy(e)) return { meta: metaOf(dataset, e), chunks: chunkFilesOf(dest, prefix, e) };
  const chunks = chunkFilesOf(dest, prefix, e);
  let head: Buffer | undefined;
  if (chunks.length && !chunkPresent(chunks[0])) {
    const fd = openSync(chunks[0].path, 'r');
    try { head = Buffer.alloc(64); head = head.subarray(0, readSync(fd, head, 0, head.length, 0)); } finally { closeSync(fd); }
  }
  const filters = legacyFilters(e.filters, head);
  for (const f of filters) if (f.alg === 'openssl' && f.kdf === 'evp' && !f.md && legacyMd) f.md = legacyMd;
  return {
    meta: { dataset, snapshot: e.Name, creation: e.CreationTime, base: e.incremental ? { name: String(e.parent ?? ''), guid: '' } : null,
      recursive: !!e.Recursive, size: typeof e.SizeEstimate === 'number' ? e.SizeEstimate : null, filters },
    chunks,
  };
}

export interface EmitOptions { dest: string; prefix: string; target: string; guid?: string; raw?: boolean; legacyMd?: LegacyMd }

/** Write a stored snapshot to fd 1 as a zb stream (the plain payload with raw). */
export async function emit(o: EmitOptions): Promise<void> {
  const base = storeDir(o.dest, o.prefix);
  const doc = readMap(base);
  const at = o.target.indexOf('@');
  const ds = at < 0 ? o.target : o.target.slice(0, at), snap = at < 0 ? undefined : o.target.slice(at + 1);
  const e = o.guid ? entries(doc, ds).find(x => !isLegacy(x) && x.guid === o.guid) : findEntry(doc, ds, snap);
  if (!e) throw new ZbError(`no snapshot of '${ds}' with guid ${o.guid} in the map`);
  const { meta, chunks } = source(o.dest, o.prefix, ds, e, o.legacyMd);
  for (const c of chunks) { const bad = chunkPresent(c); if (bad) throw new ZbError(`${ds}@${meta.snapshot}: ${bad}`); }
  if (isLegacy(e) && chunks.length) process.stderr.write(`${prog}: note: ${ds}@${meta.snapshot} comes from the original tool: its chunks have no checksum, their content cannot be verified\n`);
  const w = new ZbWriter(1, meta, !!o.raw);
  for (const c of chunks) {
    if (c.sha256) {   // first pass: nothing of a chunk goes out before its hash is proven
      const bad = await chunkIntact(c);
      if (bad) throw new ZbError(`${ds}@${meta.snapshot}: ${bad}; nothing of it was written`);
    }
    const h = await hashFile(c.path, (b) => w.write(b));
    if (c.sha256 && (h.sha256 !== c.sha256 || h.size !== c.size))
      throw new ZbError(`${ds}@${meta.snapshot}: chunk '${c.label}' changed while it was read; the stream is incomplete`);
  }
  await w.end();
}

export interface Report { problems: string[]; notes: string[]; snapshots: number; chunks: number; bytes: number }

/** Re-hash every chunk, check every incremental's parent is stored, list stray files. */
export async function verifyStore(dest: string, prefix: string, dataset?: string): Promise<Report> {
  const base = storeDir(dest, prefix), doc = readMap(base);
  const rep: Report = { problems: [], notes: [], snapshots: 0, chunks: 0, bytes: 0 };
  const all = datasets(doc);
  if (dataset !== undefined && !entries(doc, dataset).length) rep.problems.push(noBackup(doc, dataset).message);
  else if (mapAbsent(doc)) rep.problems.push(`no map in '${base}' (there is no map.json: is the prefix right?)`);
  for (const ds of dataset === undefined ? all : all.filter(d => d === dataset)) {
    const list = entries(doc, ds);
    for (const e of list) {
      const label = `${ds}@${entryName(e)}`;
      rep.snapshots++;
      if (isIncremental(e) && !parentOf(list, e)) {
        const p = isLegacy(e) ? `'${e.parent}'` : `'${e.parent?.name}' (guid ${e.parent?.guid})`;
        rep.problems.push(`${label}: incremental on ${p}, which is not in the map: it cannot be restored`);
      }
      let chunks: ChunkFile[];
      try { chunks = source(dest, prefix, ds, e).chunks; } catch (err: any) { rep.problems.push(`${label}: ${err.message}`); continue; }
      if (isLegacy(e) && chunks.length) rep.notes.push(`${label}: made by the original tool, no checksums: only the presence of its ${chunks.length} chunk(s) was checked`);
      for (const c of chunks) {
        rep.chunks++;
        const bad = await chunkIntact(c);
        if (bad) rep.problems.push(`${label}: ${bad}`); else rep.bytes += c.size ?? 0;
      }
    }
  }
  rep.notes.push(...strays(join(base, 'chunks'), referenced(doc)));
  return rep;
}

/** Notes on what chunks/ holds beside the map: staging directories, and chunk files no
 *  entry references (a failed run's, which the next backup removes when its run marker
 *  lists them; or a replaced entry's, or of unknown origin, which zfsbackup never deletes). */
function strays(cdir: string, refs: Set<string>): string[] {
  let files: string[];
  try { files = readdirSync(cdir).sort(); } catch { return []; }
  const notes: string[] = [], failed = new Set<string>();
  for (const f of files) {
    const m = STAGE_RE.exec(f);
    if (!m) continue;
    if (deadRun(cdir, f)) {
      const listed = marker(join(cdir, f));
      if (!(listed ?? []).some(n => refs.has(n))) for (const n of listed ?? []) failed.add(n);
      notes.push(listed === null ? `'chunks/${f}' was left by a failed backup (pid ${m[2]}), but its run marker does not read: zfsbackup leaves it alone (remove it by hand)`
        : `'chunks/${f}' was left by a failed backup (pid ${m[2]}, no longer running): the next backup removes it`);
    } else notes.push(m[1] === hostname() ? `'chunks/${f}' is the staging directory of a running backup (pid ${m[2]})`
      : `'chunks/${f}' is a staging directory of host '${m[1]}' (a backup running there, or a failed one: remove it by hand if none runs)`);
  }
  for (const f of files) {
    if (!CHUNK_RE.test(f) || refs.has(f)) continue;
    notes.push(failed.has(f) ? `'chunks/${f}' was published by a failed backup and is not in the map: the next backup removes it`
      : `'chunks/${f}' is not in the map; zfsbackup does not delete it (remove it by hand if no backup is running)`);
  }
  return notes;
}
