// Writing a chunk store: a zb stream cut into chunks (sha256 of each), and a map entry
// committed only after the end frame arrived and every chunk is durable. What a failed
// run left is removed by the next one, under the rule in cleanup(). See zb-chunk-dir(1).
import { CommittedError, DiskFullError, UsageError, ZbError } from '../errors.js';
import { signalStatus } from '../cli/command.js';
import { diskFull } from '../os/io.js';
import { ZbReader, type Meta } from '../stream/zb.js';
import { zfsBegin } from '../stream/zfs.js';
import { addEntry, byGuid, entryName, MAP_VERSION, readMap, referenced, VERSION_KEY, writeMap, type ChunkRef, type Entry, type MapDoc } from './map.js';
import { mapProblem } from './map-check.js';
import { chainProblem } from './read.js';
import type { ChunkStore, StoreRun } from './store.js';
import { Chunker } from './chunker.js';

export interface StoreOptions {
  chunkSize: number; lockWait: number;
  dataset?: string; snapshot?: string;
  /** the fd the zb stream comes on (default 0) */
  input?: number;
}

function ioError(e: any, what: string): ZbError {
  return e instanceof ZbError ? e : new ZbError(`${what}: ${e?.message ?? e}`);
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

/** Remove what failed runs left, and nothing else: for each run the store knows to have
 *  failed, the chunks its run marker lists when the (valid) map references none of them
 *  (it died between publishing and committing), then its own leftovers. A chunk no marker
 *  lists is never deleted, whatever the map says: verify lists it. */
export async function cleanup(st: ChunkStore, lockWait: number): Promise<string[]> {
  const release = await st.lock(lockWait);
  try { return await sweep(st, referenced(await readMap(st))); } finally { await release(); }
}

/** cleanup() under a lock already held. Also run at every commit, before the map changes, so
 *  that a run that died between committing and removing its marker is seen while the map
 *  still references its chunks (it committed: they are kept, whatever happens to its entry). */
async function sweep(st: ChunkStore, refs: Set<string>): Promise<string[]> {
  const gone: string[] = [];
  for (const r of await st.runs()) {
    if (r.state !== 'failed' || r.listed === null) continue;   // a marker that does not read: left as it is
    if (!(r.listed ?? []).some(n => refs.has(n))) {              // none in the map: it did not commit
      for (const n of r.listed ?? []) {
        const key = `chunks/${n}`;
        if ((await st.stat(key)).kind === 'file') { await st.remove(key); gone.push(n); }
      }
    }
    if (await r.remove()) gone.push(r.name);
  }
  return gone;
}

/** What to do with a stream whose guid is stored. Skip it when the stored entry's chain is
 *  intact and it is the same kind (both full, or both incremental on the same parent guid);
 *  otherwise replace it (`replace` says why) — except that an intact entry is never
 *  replaced by an incremental that could not be restored (its base is not in the map, or
 *  the base's chain is broken): `skip` then says why nothing was written. */
async function decide(st: ChunkStore, doc: MapDoc, ds: string, old: Entry, meta: Meta): Promise<{ skip?: string; replace?: string; warn?: boolean }> {
  const bad = await chainProblem(st, doc, ds, old);
  if (bad) return { replace: bad, warn: true };
  if (old.parent?.guid === meta.base?.guid) return { skip: '' };
  const on = (p: { name: string; guid: string }) => `an incremental on '${p.name || p.guid}'`;
  const was = old.parent ? on(old.parent) : 'a full', now = meta.base ? on(meta.base) : 'a full';
  if (meta.base) {
    const base = byGuid(doc, ds, meta.base.guid);
    const why = base ? await chainProblem(st, doc, ds, base) : `its base (guid ${meta.base.guid}) is not in the map`;
    if (why) return { skip: ` as ${was}, which restores; this stream, ${now}, would not restore (${why})`, warn: true };
  }
  return { replace: `it was ${was}, this is ${now}` };
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

const full = (e: unknown) => e instanceof DiskFullError ? e.message : diskFull(e as any);

/** Store the zb stream on o.input. Returns what to tell the user ('warning: ...' when the
 *  store was found broken, or the stream not stored because it would not restore). */
export async function storeStream(st: ChunkStore, o: StoreOptions): Promise<string> {
  const first = await readMap(st);           // a map that does not validate stops us before any change
  const r = await ZbReader.open(o.input ?? 0, { plain: o.dataset !== undefined && o.snapshot !== undefined ? 'any' : 'zfs' });
  const meta = await sourceMeta(r, o);
  const ds = meta.dataset!, label = `${ds}@${meta.snapshot}`;
  const odd = mapProblem(JSON.parse(JSON.stringify({ [ds]: { snapshots: [entryOf(meta, [], 0)] } })), { key: VERSION_KEY, max: MAP_VERSION });
  if (odd) throw new ZbError(`the stream's header cannot make a valid map entry: ${odd.replace(/\.snapshots\[0\]/, '@' + meta.snapshot)}`);
  const stored = meta.guid ? byGuid(first, ds, meta.guid) : undefined;
  const early = stored && await decide(st, first, ds, stored, meta);
  if (early && early.skip !== undefined) {
    for await (const _ of r.payload()) { /* read to the end frame: the sender must not see a broken pipe */ }
    return `${early.warn ? 'warning: ' : ''}${label} (guid ${meta.guid}) is already stored in '${st.where}'${early.skip}; nothing written`;
  }
  const stem = `${ds.replace(/\//g, '_')}@${meta.snapshot}.${meta.guid ?? 't' + Date.now()}`;
  let run: StoreRun | undefined, release: (() => Promise<void>) | undefined, stopping = false;
  // a signal, from before the first lock on: remove what this run made and let go of the lock
  // (abort may take time on a remote store: bounded)
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    const quit = () => process.exit(signalStatus(sig));
    setTimeout(quit, 10_000);
    (run ? run.abort() : Promise.resolve()).catch(() => {}).then(() => release?.()).catch(() => {}).finally(quit);
  };
  const sigs: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of sigs) process.on(s, onSignal);
  try {
    try {   // what failed runs left goes first (cleanup(), here with the lock in reach of the signal handler)
      await st.prepareWrite();
      release = await st.lock(o.lockWait);
      await sweep(st, referenced(await readMap(st)));
      const r0 = release; release = undefined; await r0();
      run = await st.begin(stem);
    } catch (e) {
      const f = full(e);
      throw f ? new ZbError(`${f} in '${st.where}'`) : e;
    }
    return await chunks(st, o, r, meta, run, stem, (f) => { release = f; });
  } finally {
    await release?.();
    for (const s of sigs) process.off(s, onSignal);
  }
}

/** The rest of storeStream: the payload into the run's chunks, then the commit under the lock
 *  (`locked` hands the release to storeStream, which lets go of it, also on a signal). */
async function chunks(st: ChunkStore, o: StoreOptions, r: ZbReader, meta: Meta, run: StoreRun, stem: string,
  locked: (release: () => Promise<void>) => void): Promise<string> {
  const ds = meta.dataset!, label = `${ds}@${meta.snapshot}`;
  const ch = new Chunker(run, stem, o.chunkSize);
  try {
    for await (const b of r.payload()) await ch.write(b);
    await ch.finish();
    locked(await st.lock(o.lockWait));
    const doc = await readMap(st);
    await sweep(st, referenced(doc));
    const now = meta.guid ? byGuid(doc, ds, meta.guid) : undefined;
    const late = now && await decide(st, doc, ds, now, meta);
    if (late && late.skip !== undefined) {
      await run.abort();
      return `${late.warn ? 'warning: ' : ''}${label} (guid ${meta.guid}) was stored by another run meanwhile${late.skip}; nothing written`;
    }
    const names = await run.publish(ch.chunks.map(c => c.name));
    ch.chunks.forEach((c, i) => { c.name = names[i]; });
    const old = addEntry(doc, ds, entryOf(meta, ch.chunks, ch.total));
    await writeMap(st, doc);
    await run.done();
    const what = `${ch.chunks.length} chunk(s), ${ch.total} bytes in '${st.where}'`;
    if (!old) return `stored ${label}: ${what}`;
    return `${late && late.warn ? 'warning: ' : ''}replaced the entry of ${ds}@${entryName(old)} (guid ${old.guid}): ${late && late.replace}; stored ${what} (the old entry's chunk files are kept: --verify lists them)`;
  } catch (e: any) {
    // the map is in place (only making it durable failed): the run committed, and its marker
    // goes, so that its chunks are never taken for a failed run's (at worst, were the map
    // lost in a crash, they are chunks no marker lists: kept, and listed by verify)
    if (e instanceof CommittedError) { await run.done(); throw e; }
    await ch.settle();
    await run.abort();
    const f = full(e);
    if (f) throw new ZbError(`${f} in '${st.where}'`);
    throw ioError(e, 'cannot store the stream');
  }
}
