// zb-list --dir: what a chunk directory's map holds, read from the map alone (no key
// needed, even for encrypted backups).
import { ZbError } from '../errors.js';
import { formatSize } from '../cli/size.js';
import type { Row } from '../cli/table.js';
import { datasets, entries, isIncremental, isLegacy, mapAbsent, noBackup, readMap, type AnyEntry } from './map.js';
import type { ChunkStore } from './store.js';
import { describe, recognise } from './legacy.js';
import type { Filter } from '../stream/zb.js';

/** Filters for people, in the order applied; an original map's unknown command shows as ?(cmd). */
function filterText(e: AnyEntry): string {
  if (!isLegacy(e)) return describe(e.filters) || '-';
  const fs = (e.filters ?? []).map((argv): Filter | string => {
    try { return recognise(argv); } catch { return `?(${Array.isArray(argv) ? argv[0] : argv})`; }
  }).reverse();
  return fs.map(f => typeof f === 'string' ? f : describe([f])).join(',') || '-';
}

export function rowOf(ds: string, e: AnyEntry, raw: boolean): Row {
  const legacy = isLegacy(e);
  const creation = legacy ? e.CreationTime : e.creation;
  const bytes = legacy ? null : e.bytes;
  return {
    dataset: ds,
    snapshot: legacy ? e.Name : e.name,
    guid: legacy ? null : e.guid || null,
    type: isIncremental(e) ? 'incremental' : 'full',
    base: legacy ? (e.incremental ? e.parent ?? null : null) : e.parent?.name || (e.parent ? e.parent.guid : null),
    bytes: bytes === null ? null : raw ? bytes : formatSize(bytes),
    chunks: e.chunks.length,
    filters: filterText(e),
    creation: typeof creation !== 'number' ? null : raw ? creation : new Date(creation * 1000).toISOString().replace('.000Z', 'Z'),
    ...(legacy ? { format: 'original' } : {}),
  };
}

export const STORE_COLUMNS = ['dataset', 'snapshot', 'guid', 'type', 'base', 'bytes', 'chunks', 'filters', 'creation'];

/** The rows zb-list prints for a store (one dataset or all; sizes and times raw with `raw`). */
export async function storeRows(st: ChunkStore, o: { dataset?: string; raw?: boolean }): Promise<Row[]> {
  const doc = await readMap(st);
  if (mapAbsent(doc)) throw new ZbError(`no backup in '${st.where}' (no map.json)`);
  const all = datasets(doc);
  if (o.dataset !== undefined && !entries(doc, o.dataset).length) throw noBackup(doc, o.dataset);
  const rows: Row[] = [];
  for (const ds of o.dataset === undefined ? all : [o.dataset]) for (const e of entries(doc, ds)) rows.push(rowOf(ds, e, !!o.raw));
  return rows;
}
