// The plan of a backup, by guid: which snapshots to send, each from which base. The base is
// the newest source snapshot whose guid the target holds, or a newer source bookmark whose
// guid it holds (the bookmark's snapshot pruned on the source: zfs send -i DS#mark). What
// would lose data on the target, or cannot be sent, is refused before anything runs.
import { ZbError } from '../errors.js';
import * as z from '../zfs/commands.js';
import type { Step } from './options.js';

export interface PlanInput {
  /** the source's snapshots and (where they are bases) bookmarks, oldest first */
  all: z.Snapshot[];
  /** the snapshot to end with (its name after @; default the newest); it exists */
  upto?: string;
  /** what the target holds */
  have: z.Snapshot[];
  /** the target, for messages, and the source dataset */
  where: string;
  dataset: string;
  /** the target is a dataset (a full into it replaces what it holds), not a store */
  mine: boolean;
  recursive?: boolean;
  force?: boolean;
  forceFull?: boolean;
  /** false: one send with -I instead of one per snapshot */
  iterate?: boolean;
}

/** The incremental base: the newest source snapshot or bookmark (marks) whose guid the
 *  target holds; of a snapshot and a bookmark with one guid, the snapshot (zfs sends -I and
 *  -R only from snapshots). marks must be older than the newest snapshot in upto. */
export function incrementalBase(upto: z.Snapshot[], marks: z.Snapshot[], have: z.Snapshot[]): z.Snapshot | undefined {
  const snap = z.commonBase(upto, have);
  const mark = z.commonBase(marks, have);
  return mark && (!snap || mark.createtxg > snap.createtxg) ? mark : snap;
}

const KEEP = 'a full copy over it would need its snapshots destroyed, which zfsbackup leaves to you';

export function planSteps(p: PlanInput): Step[] {
  const src = p.all.filter(s => !s.bookmark);
  const last = p.upto === undefined ? src.length - 1 : src.findIndex(s => s.snap === p.upto);
  const upto = src.slice(0, last + 1), have = p.have, where = `target '${p.where}'`;
  const marks = p.all.filter(s => s.bookmark && s.createtxg < upto[last].createtxg);
  if (p.forceFull) {
    // zfs receives a full stream over a dataset's snapshots with no flag (not even -F)
    if (p.mine && have.length)
      throw new ZbError(`${where} has snapshots; a full stream would need them destroyed, which zfsbackup leaves to you: choose another --dest, or destroy them (zfs destroy -r ${p.where}) and run again`);
    return [{ snapshot: upto[last] }];
  }
  // zfs sends -R only from a snapshot (zfs-send(8)): no bookmark base with -R
  const base = incrementalBase(upto, p.recursive ? [] : marks, have);
  if (!base && have.length && p.mine) {
    const clash = z.nameClashes(upto, have), bm = incrementalBase([], marks, have);
    throw new ZbError(clash.length ? `${where} has snapshot '${clash[0]}' with the source's name but another guid: it is not the same snapshot; choose another --dest (${KEEP})`
      : bm ? `${where} has no snapshot in common with '${p.dataset}', only one that is the source's bookmark '${bm.name}', and zfs cannot send -R from a bookmark: run without -R, or choose another --dest (${KEEP})`
      : `${where} has snapshots but none in common with '${p.dataset}': choose another --dest (${KEEP})`);
  }
  if (base && p.mine && !p.force) {
    // receive -F would destroy the target's snapshots that the source lacks (target.ts
    // checks the same before each receive; here it is said before anything is sent)
    const tb = have.findIndex(s => s.guid === base.guid);
    const newer = have.slice(tb + 1).filter(t => !p.all.some(s => s.guid === t.guid));
    if (newer.length)
      throw new ZbError(`${where} has snapshots newer than the common one '${have[tb].snap}' that the source lacks (${newer.map(s => s.snap).join(', ')}): receiving would destroy them; destroy them yourself, choose another --dest, or add --force`);
  }
  if (base && base.guid === upto[last].guid) return [];
  const steps: Step[] = base ? [] : [{ snapshot: upto[0] }];
  const after = base?.bookmark ? upto.filter(s => s.createtxg > base.createtxg) : upto.slice(base ? upto.indexOf(base) + 1 : 1);
  let prev = base ?? upto[0];
  if (p.iterate === false && after.length) {
    // zfs send -I cannot start from a bookmark: the first snapshot after it goes alone (-i)
    if (prev.bookmark && after.length > 1) { steps.push({ snapshot: after[0], base: prev }); prev = after.shift()!; }
    steps.push({ snapshot: after[after.length - 1], base: prev, intermediates: after.length > 1 });
  } else for (const s of after) { steps.push({ snapshot: s, base: prev }); prev = s; }
  return steps;
}
