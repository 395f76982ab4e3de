// The map of a chunk store (zb-map(5)): map.json at the store's root. Top-level key =
// source dataset, as in the original tool, whose maps we read (legacy.ts knows their
// filters). Every map read is validated whole (map-check.ts); the store writes it
// atomically (ChunkStore.writeMap, the commit point).
import { ZbError } from '../errors.js';
import type { Filter, Meta } from '../stream/zb.js';
import { mapProblem } from './map-check.js';
import type { ChunkStore } from './store.js';

export const MAP_VERSION = 1;
/** Holds {version}; a dataset name starts with a letter, so it can never be '@…'. */
export const VERSION_KEY = '@zfsbackup';

export interface ChunkRef { name: string; size: number; sha256: string }
/** One stored snapshot, as this tool writes it. */
export interface Entry {
  name: string; guid: string; createtxg?: string; creation?: number;
  incremental: boolean; parent: { name: string; guid: string } | null;
  intermediates?: boolean; recursive: boolean; raw?: boolean;
  size: number | null;           // the sender's estimate, when zfs could give one
  filters: Filter[];             // as data, in the order they were applied
  chunks: ChunkRef[];            // names relative to DEST/PREFIX/chunks/
  bytes: number;                 // stored payload bytes (sum of chunk sizes)
  host?: string; time?: string;  // who wrote the stream and when (the header's)
  written: string;               // when the entry was committed
}
/** One snapshot as the original Python tool wrote it. */
export interface LegacyEntry {
  Name: string; CreationTime?: number; incremental?: boolean; parent?: string | null;
  chunks: string[]; filters?: string[][] | null; Recursive?: boolean; SizeEstimate?: number | null;
  [k: string]: unknown;
}
export type AnyEntry = Entry | LegacyEntry;
export type MapDoc = Record<string, any>;

export const isLegacy = (e: AnyEntry): e is LegacyEntry => typeof (e as any).Name === 'string' && !('guid' in e);
export const entryName = (e: AnyEntry) => isLegacy(e) ? e.Name : e.name;
const creationOf = (e: AnyEntry) => isLegacy(e) ? e.CreationTime : e.creation;
/** a was made after b: by creation time, then createtxg; unknown times keep map order. */
function later(a: AnyEntry, b: AnyEntry): boolean {
  const ca = creationOf(a), cb = creationOf(b);
  if (ca === undefined || cb === undefined) return false;
  if (ca !== cb) return ca > cb;
  const ta = isLegacy(a) ? undefined : a.createtxg, tb = isLegacy(b) ? undefined : b.createtxg;
  return ta !== undefined && tb !== undefined && /^\d+$/.test(ta) && /^\d+$/.test(tb) && BigInt(ta) > BigInt(tb);
}

const WHERE = Symbol('map file'), ABSENT = Symbol('no map file yet');
/** The file a map was read from, for messages ('map.json' when it is not known). */
export const whereOf = (doc: MapDoc): string => doc[WHERE as any] ?? 'map.json';

/** Parse map text and validate the whole document (map-check.ts): a map that does not
 *  validate is refused with one line naming its first bad field, so that nothing is ever
 *  done on the strength of a map that does not make sense. `where` names the file. */
export function parseMap(text: string, where = 'map.json'): MapDoc {
  let doc: any;
  try { doc = JSON.parse(text); } catch { throw new ZbError(`'${where}' is not valid JSON: fix or restore the map; nothing was changed`); }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new ZbError(`'${where}' is not a map (not a JSON object): fix or restore the map; nothing was changed`);
  const v = doc[VERSION_KEY]?.version;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v > MAP_VERSION)
    throw new ZbError(`'${where}' has map format ${v}, newer than this zfsbackup reads (${MAP_VERSION}); nothing was changed`);
  const bad = mapProblem(doc, { key: VERSION_KEY, max: MAP_VERSION });
  if (bad) throw new ZbError(`'${where}': ${bad}: fix or restore the map; nothing was changed`);
  Object.defineProperty(doc, WHERE, { value: where, enumerable: false, writable: true });
  return doc;
}

export const datasets = (doc: MapDoc) => Object.keys(doc).filter(k => k !== VERSION_KEY).sort();

/** The stored snapshots of a dataset, oldest first. Reads the original's list form
 *  {"snapshots": [...]} and the keyed form {"snapname": {...}}; the document was validated
 *  whole by parseMap, so every value here is an entry. */
export function entries(doc: MapDoc, dataset: string): AnyEntry[] {
  if (!Object.prototype.hasOwnProperty.call(doc, dataset) || dataset === VERSION_KEY) return [];
  const d = doc[dataset];
  return Array.isArray(d.snapshots) ? d.snapshots : Object.values(d);
}

/** Whether the map was read from no file (there is none yet). */
export const mapAbsent = (doc: MapDoc): boolean => !!doc[ABSENT as any];

/** "no backup of 'X' in 'D/P/map.json' (it holds: a, b)". */
export function noBackup(doc: MapDoc, dataset: string): ZbError {
  const all = datasets(doc).filter(ds => entries(doc, ds).length);
  const holds = doc[ABSENT as any] ? 'there is no such file: is the prefix right?' : all.length ? `it holds: ${all.join(', ')}` : 'it holds none';
  return new ZbError(`no backup of '${dataset}' in '${whereOf(doc)}' (${holds})`);
}

/** Find a stored snapshot by name (the newest of that name), or the newest one. A name that
 *  is no entry of its own may be inside a stored -I stream (its intermediates are not named
 *  in the map): the message says which entries may hold it. */
export function findEntry(doc: MapDoc, dataset: string, snap?: string): AnyEntry {
  const list = entries(doc, dataset);
  if (!list.length) throw noBackup(doc, dataset);
  if (snap === undefined) return list[list.length - 1];
  const hit = list.filter(e => entryName(e) === snap).pop();
  if (hit) return hit;
  const wide = list.filter((e): e is Entry => !isLegacy(e) && !!e.intermediates && e.parent?.name !== snap);
  if (!wide.length) throw new ZbError(`no snapshot '${dataset}@${snap}' in '${whereOf(doc)}'`);
  const which = wide.map(e => `'${dataset}@${e.name}' (from '${e.parent?.name || e.parent?.guid}')`).join(', ');
  throw new ZbError(`no snapshot '${dataset}@${snap}' of its own in the map; the -I stream${wide.length > 1 ? 's' : ''} stored as ${which} ` +
    `may contain it: restore --snapshot ${wide.length > 1 ? 'one of ' + wide.map(e => e.name).join(', ') : wide[0].name}`);
}


/** The parent entry of an incremental (by guid; by name for the original's entries). */
export function parentOf(list: AnyEntry[], e: AnyEntry): AnyEntry | undefined {
  const i = list.indexOf(e);
  if (!isLegacy(e)) return e.parent ? list.find(p => !isLegacy(p) && p.guid === e.parent!.guid) : undefined;
  return e.parent === undefined ? undefined : list.slice(0, i < 0 ? list.length : i).reverse().find(p => entryName(p) === e.parent);
}
export const isIncremental = (e: AnyEntry) => isLegacy(e) ? !!e.incremental : e.incremental;

/** What to replay to arrive at `e`: a full, then each incremental on it, in order. */
export function restoreChain(doc: MapDoc, dataset: string, e: AnyEntry): AnyEntry[] {
  const list = entries(doc, dataset), chain = [e];
  while (isIncremental(chain[0])) {
    const c = chain[0], p = parentOf(list, c);
    if (!p) {
      const pn = isLegacy(c) ? `'${c.parent}'` : `'${c.parent?.name}' (guid ${c.parent?.guid})`;
      throw new ZbError(`cannot restore '${dataset}@${entryName(e)}': '${entryName(c)}' is an incremental on ${pn}, which is not in the map`);
    }
    if (chain.includes(p)) throw new ZbError(`map of '${dataset}' has a cycle of incrementals at '${entryName(p)}'`);
    chain.unshift(p);
  }
  return chain;
}

/** Insert (keeping creation order) a new entry; writes the version key. An entry of the
 *  dataset with the same guid is replaced (one entry per guid, always): entries whose
 *  parent it was chain onto the new one. Returns the replaced entry. */
export function addEntry(doc: MapDoc, dataset: string, e: Entry): Entry | undefined {
  doc[VERSION_KEY] = { ...(doc[VERSION_KEY] ?? {}), version: MAP_VERSION };
  const list = [...entries(doc, dataset)];
  const extra = doc[dataset] && Array.isArray(doc[dataset].snapshots) ? doc[dataset] : {};
  const j = e.guid ? list.findIndex(x => !isLegacy(x) && x.guid === e.guid) : -1;
  const old = j < 0 ? undefined : list.splice(j, 1)[0] as Entry;
  if (old) for (const x of list) if (!isLegacy(x) && x.parent?.guid === e.guid) x.parent = { name: e.name, guid: e.guid };
  let i = list.length;
  while (i > 0 && later(list[i - 1], e)) i--;
  list.splice(i, 0, e);
  doc[dataset] = { ...extra, snapshots: list };
  return old;
}

/** The stored entry (ours) of a dataset with this guid. */
export const byGuid = (doc: MapDoc, dataset: string, guid: string): Entry | undefined =>
  guid ? entries(doc, dataset).find((e): e is Entry => !isLegacy(e) && e.guid === guid) : undefined;

/** Every chunk file name (relative to the chunks dir) the map's entries reference. */
export function referenced(doc: MapDoc): Set<string> {
  const s = new Set<string>();
  for (const ds of datasets(doc)) for (const e of entries(doc, ds)) {
    if (isLegacy(e)) for (const c of e.chunks) s.add(c.split(/[\\/]/).pop()!);
    else for (const c of e.chunks) s.add(c.name);
  }
  return s;
}

/** The zb stream header that re-emits a stored snapshot. */
export function metaOf(dataset: string, e: Entry): Meta {
  return {
    dataset, snapshot: e.name, guid: e.guid, createtxg: e.createtxg, creation: e.creation,
    base: e.parent, ...(e.intermediates ? { intermediates: true } : {}), recursive: e.recursive,
    ...(e.raw ? { raw: true } : {}), size: e.size, host: e.host, time: e.time, filters: e.filters,
  };
}

/** The text of a map document, for ChunkStore.writeMap. A document that would not validate
 *  on the next read (a stream header with odd metadata) is refused: a writer must not make
 *  the store unreadable. */
export function mapText(doc: MapDoc, where: string): string {
  const text = JSON.stringify(doc, null, 2) + '\n';
  const bad = mapProblem(JSON.parse(text), { key: VERSION_KEY, max: MAP_VERSION });
  if (bad) throw new ZbError(`the new map of '${where}' would not validate: ${bad}; nothing was changed`);
  return text;
}

/** Read and validate a store's map; {} (marked absent) when there is none yet. */
export async function readMap(st: ChunkStore): Promise<MapDoc> {
  const text = await st.readMap();
  if (text === undefined) {
    const doc = {};
    Object.defineProperty(doc, WHERE, { value: st.mapName, enumerable: false });
    Object.defineProperty(doc, ABSENT, { value: true });
    return doc;
  }
  return parseMap(text, st.mapName);
}

/** Commit a new map document to the store. */
export const writeMap = (st: ChunkStore, doc: MapDoc): Promise<void> => st.writeMap(mapText(doc, st.where));
