// --hold: after each send, a zfs hold on the source snapshot the copy now ends with (the next
// incremental's base), so that no other tool's pruning destroys it; released from the
// dataset's other snapshots. One tag per target: two targets of a dataset keep each its base.
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
