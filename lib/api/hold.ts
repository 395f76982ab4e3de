// What keeps the next incremental's base on the source. --hold: after each send, a zfs hold
// on the source snapshot the copy now ends with, released from the dataset's other snapshots.
// Bookmarks (where zfs has them, zfs and ssh methods): after each send, a bookmark of that
// snapshot, DS#zfsbackup-<hex>-SNAP, the target's older one destroyed; when another tool
// prunes the snapshot, the bookmark is still a base (zfs send -i DS#mark). One tag per
// target: two targets of a dataset keep each their own hold and bookmark.
import { createHash } from 'node:crypto';
import * as z from '../zfs/commands.js';
import type { ZfsHost } from '../zfs/host.js';

/** zfsbackup-<12 hex of sha256(key)>, key naming the target. */
export function holdTag(key: string): string { return `zfsbackup-${createHash('sha256').update(key).digest('hex').slice(0, 12)}`; }

/** Hold snap on host with the target's tag; release that tag from the dataset's other snapshots. */
export async function holdBase(host: ZfsHost, dataset: string, snap: string, key: string, recursive?: boolean): Promise<string> {
  const tag = holdTag(key);
  await z.hold(host, tag, snap, recursive);
  for (const s of await z.heldSnapshots(host, dataset)) if (s !== snap) await z.release(host, tag, s, recursive);
  return tag;
}

/** The bookmark names of a target: zfsbackup-<hex>-SNAP. */
export const markPrefix = (key: string): string => `${holdTag(key)}-`;

/** After a send of snap: bookmark it as the target's mark, then destroy the target's older
 *  marks, but only those whose guid the target holds (we mark only what it received: one
 *  with our name and a guid it lacks is not ours, and is left). Returns the new bookmark's
 *  name and what was destroyed, or a note on why there is no bookmark. */
export async function keepBookmark(host: ZfsHost, snap: z.Snapshot, key: string, target: z.Snapshot[]): Promise<{ name: string; destroyed: string[]; note?: string }> {
  const prefix = markPrefix(key), name = `${snap.dataset}#${prefix}${snap.snap}`;
  await z.bookmark(host, snap.name, name);
  const marks = (await z.snapshots(host, snap.dataset, { bookmarks: true })).filter(s => s.bookmark);
  const made = marks.find(m => m.name === name);
  if (!made || made.guid !== snap.guid)
    return { name, destroyed: [], note: `bookmark '${name}' is there with another guid than '${snap.name}' (not made by zfsbackup): it is left, and '${snap.name}' has no bookmark; destroy it (zfs destroy '${name}') to let the next run make one` };
  const on = new Set(target.map(s => s.guid));
  const old = marks.filter(m => m !== made && m.snap.startsWith(prefix) && m.createtxg < made.createtxg && on.has(m.guid));
  for (const m of old) await z.destroyBookmark(host, m.name);
  return { name, destroyed: old.map(m => m.name) };
}
