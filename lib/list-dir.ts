// zb-list --dir: what a chunk directory's map holds, read from the map alone (no key
// needed, even for encrypted backups).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ZbError } from './cli.js';
import { formatSize } from './size.js';
import { printRows, type Row } from './list.js';
import { datasets, entries, isIncremental, isLegacy, noBackup, readMap, type AnyEntry } from './map.js';
import { describe, recognise } from './legacy.js';
import { storeDir } from './chunkdir.js';
import type { Filter } from './stream.js';

export interface ListDirOptions { prefix: string; dataset?: string; H?: boolean; json?: boolean }

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

/** Print the map of DEST/PREFIX (one dataset or all). */
export function listDir(dest: string, o: ListDirOptions): void {
  const base = storeDir(dest, o.prefix);
  if (!existsSync(join(base, 'map.json'))) throw new ZbError(`no backup in '${base}' (no map.json)`);
  const doc = readMap(base);
  const all = datasets(doc);
  if (o.dataset !== undefined && !entries(doc, o.dataset).length) throw noBackup(doc, o.dataset);
  const rows: Row[] = [];
  for (const ds of o.dataset === undefined ? all : [o.dataset]) for (const e of entries(doc, ds)) rows.push(rowOf(ds, e, !!(o.H || o.json)));
  printRows(rows, ['dataset', 'snapshot', 'guid', 'type', 'base', 'bytes', 'chunks', 'filters', 'creation'], o);
}
