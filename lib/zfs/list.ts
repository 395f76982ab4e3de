// zb-list of a pool: its snapshots (and bookmarks) with guid, createtxg, creation, as table rows.
import { snapshots, type Snapshot } from './commands.js';
import type { ZfsHost } from './host.js';
import type { Row } from '../cli/table.js';

export const POOL_COLUMNS = ['name', 'guid', 'createtxg', 'creation'];

/** The rows zb-list prints for a dataset (creation in seconds when `raw`). */
export async function poolRows(host: ZfsHost, ds: string, o: { recursive?: boolean; raw?: boolean }): Promise<Row[]> {
  const snaps = await snapshots(host, ds, { recursive: o.recursive, bookmarks: true });
  const rows = snaps.map((s: Snapshot) => ({
    name: s.name, guid: s.guid, createtxg: String(s.createtxg),
    creation: o.raw ? s.creation : new Date(s.creation * 1000).toISOString().replace('.000Z', 'Z'),
  }));
  return rows;
}
