// What a receive would destroy on its target, found before anything is sent. `zfs receive -F`
// replaces a dataset that has no snapshot, rolls an incremental's target back to the base
// (losing what was changed since) and, with -R, destroys snapshots and datasets the stream
// lacks. zfsbackup passes -F only when that loses nothing, or when the user said --force.
import { lstatSync, readdirSync, readlinkSync, rmSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { ZbError } from '../errors.js';
import { prog } from '../cli/command.js';
import { alive } from '../os/proc.js';
import { privateDir } from '../os/proc.js';
import * as z from './commands.js';
import { localZfs, type ZfsHost } from './host.js';

export interface ReceiveCheck {
  target: string;
  /** the incremental base's snapshot name; none for a full stream */
  base?: string;
  recursive?: boolean;
  /** whether a target snapshot belongs to what is being sent (by guid, or name where unknown) */
  keep: (s: z.Snapshot) => boolean;
  force?: boolean;
  /** where the target is (default: this machine) */
  host?: ZfsHost;
}

/** A refusal: what would be lost, and what to do. */
export class WouldDestroy extends ZbError {}

const FORCE = 'add --force to';

/** Whether the receive needs -F. Throws WouldDestroy when -F (or the receive) would lose data. */
export async function needsForce(c: ReceiveCheck): Promise<boolean> {
  const host = c.host ?? localZfs();
  if (!(await z.exists(host, c.target))) return false;
  const token = await z.resumeToken(host, c.target);
  if (token) throw new WouldDestroy(`target '${c.target}' holds a partial receive (receive_resume_token is set): finish it with the backup that started it, or discard it yourself (zfs receive -A ${c.target})`);
  if (c.force) return true;
  const fss = await z.filesystems(host, c.target);
  const snaps = await withoutChecks(host, await z.snapshots(host, c.target, { recursive: true }));
  const t = `'${c.target}'`;
  if (c.base === undefined) {
    if (snaps.length) throw new WouldDestroy(`target ${t} has snapshots (${names(snaps.map(s => s.name))}) and the stream is a full one: choose a new dataset (zfs receives a full stream over snapshots only once they are destroyed, which zfsbackup leaves to you)`);
    if (fss.length > 1) throw new WouldDestroy(`target ${t} has child datasets (${names(fss.slice(1).map(f => f.name))}): a full receive would replace it; choose a new dataset, or ${FORCE} replace ${t}`);
    const mp = fss[0].mountpoint;
    if (!mp) throw new WouldDestroy(`target ${t} exists without a snapshot and is not mounted, so zfsbackup cannot tell whether it holds files: mount it (zfs mount ${c.target}), or ${FORCE} replace it`);
    const files = listDir(mp).filter(f => f !== '.zfs');
    if (files.length) throw new WouldDestroy(`target ${t} exists and holds files (${names(files.map(f => `'${f}'`))}) but no snapshot: receiving would replace them; choose a new dataset, or ${FORCE} replace them`);
    return true;   // an empty dataset: -F replaces nothing
  }
  // -F would destroy target snapshots outside what is sent, and (-R) datasets the source lacks
  const tree = c.recursive ? fss : fss.slice(0, 1);
  const inTree = (s: z.Snapshot) => tree.some(f => f.name === s.dataset);
  const extra = snaps.filter(s => inTree(s) && !c.keep(s)).map(s => s.name);
  if (c.recursive) for (const f of fss.slice(1)) if (!snaps.some(s => s.dataset === f.name && c.keep(s))) extra.push(f.name);
  let force = false;
  for (const f of tree) {
    if (!snaps.some(s => s.dataset === f.name && s.snap === c.base)) continue;   // new in this stream
    const change = await changedSince(host, f, c.base, fss);
    if (change === BY_READING) force = true;
    else if (change) throw new WouldDestroy(`target '${f.name}' was changed since its snapshot '${c.base}' (${change}): receiving would roll that back; snapshot or undo the change, or ${FORCE} discard it`);
  }
  if (force && extra.length) throw new WouldDestroy(`target ${t} holds ${names(extra)}, which the source does not: receiving would destroy ${extra.length > 1 ? 'them' : 'it'}; rename or destroy ${extra.length > 1 ? 'them' : 'it'} yourself, or ${FORCE} let it happen`);
  return force;
}

const BY_READING = 'changed-by-reading';

/** What changed in fs since fs@snap: undefined (nothing: no -F needed), BY_READING (only
 *  access times and children's mountpoints: -F loses nothing), or the first change found. */
async function changedSince(host: ZfsHost, f: z.Mounted, snap: string, all: z.Mounted[]): Promise<string | undefined> {
  const w = await z.written(host, f.name);
  if (w === 0) return undefined;
  // children's mountpoint directories appear in a parent as it receives them
  const mp = f.mountpoint;
  const skip = new Set(mp ? all.filter(x => x !== f && x.mountpoint?.startsWith(mp + '/')).map(x => x.mountpoint!.slice(mp.length + 1)) : []);
  if (mp && isDir(join(mp, '.zfs', 'snapshot', snap))) return compareTrees(mp, join(mp, '.zfs', 'snapshot', snap), skip) ?? BY_READING;
  if (!mp) return w === null ? undefined : `${w} bytes written, and it is not mounted to compare`;
  // zfs-fuse: no .zfs directory, and a mount that shows stale attributes for an hour after a
  // receive (fuse-attr-timeout): compare clones of the snapshot and of the dataset as it is now
  await removeStaleClones(host, f.name.split('/')[0]);
  const made: string[] = [], dirs: string[] = [];
  try {
    const now = await z.checkSnapshot(host, f.name); made.push(now);
    const [a, b] = [privateDir('zb-check-'), privateDir('zb-check-')]; dirs.push(a, b);
    made.push(await z.checkClone(host, `${f.name}@${snap}`, a), await z.checkClone(host, now, b));
    return compareTrees(b, a, skip) ?? BY_READING;
  } finally {
    for (const n of made.reverse()) await z.destroyCheck(host, n);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

/** The snapshots of a dataset that exists (else none), less our comparison snapshots. */
export async function targetSnapshots(ds: string, host: ZfsHost = localZfs()): Promise<z.Snapshot[]> {
  return (await z.exists(host, ds)) ? withoutChecks(host, await z.snapshots(host, ds)) : [];
}

/** Snapshots less our own comparison snapshots; those of a run that was killed are destroyed. */
async function withoutChecks(host: ZfsHost, snaps: z.Snapshot[]): Promise<z.Snapshot[]> {
  const keep: z.Snapshot[] = [];
  for (const s of snaps) {
    const pid = z.checkPid(s.name);
    if (pid === undefined) { keep.push(s); continue; }
    if (!alive(pid)) await z.destroyCheck(host, s.name);
  }
  return keep;
}

/** Clones of ours left by a run that was killed (they would keep their snapshot from being destroyed). */
async function removeStaleClones(host: ZfsHost, pool: string): Promise<void> {
  for (const f of await z.filesystems(host, pool)) {
    const pid = f.name.includes('@') ? undefined : z.checkPid(f.name);
    if (pid !== undefined && !alive(pid)) {
      process.stderr.write(`${prog}: removing '${f.name}', a comparison clone left by a run that was stopped\n`);
      await z.destroyCheck(host, f.name);
    }
  }
}

/** The first difference between a live tree and its snapshot, ignoring access times, the
 *  .zfs directory, the relative paths in `skip` (children's mountpoints) and other devices. */
export function compareTrees(live: string, snap: string, skip: Set<string>): string | undefined {
  const dev = BigInt(lstatSync(live).dev);
  const walk = (rel: string): string | undefined => {
    const a = listDir(join(live, rel)), b = new Set(listDir(join(snap, rel)));
    for (const n of a) {
      const r = rel ? `${rel}/${n}` : n, p = join(live, r);
      if ((!rel && n === '.zfs') || skip.has(r)) { b.delete(n); continue; }
      const sa = lstatSync(p, { bigint: true });
      if (sa.dev !== dev) { b.delete(n); continue; }
      if (!b.delete(n)) return `'${r}' added`;
      const sb = lstatSync(join(snap, r), { bigint: true });
      const d = differs(sa, sb, p, join(snap, r));
      if (d) return `'${r}' ${d}`;
      if (sa.isDirectory()) { const sub = walk(r); if (sub) return sub; }
    }
    for (const n of b) if (!(!rel && n === '.zfs') && !skip.has(rel ? `${rel}/${n}` : n)) return `'${rel ? `${rel}/${n}` : n}' removed`;
    return undefined;
  };
  return walk('');
}

function differs(a: BigIntStats, b: BigIntStats, pa: string, pb: string): string | undefined {
  if ((a.mode & 0o170000n) !== (b.mode & 0o170000n)) return 'changed type';
  if (a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid) return 'changed owner or mode';
  if (a.isSymbolicLink()) return readlinkSync(pa) === readlinkSync(pb) ? undefined : 'changed';
  if (!a.isDirectory() && (a.size !== b.size || a.mtimeNs !== b.mtimeNs)) return 'changed';
  return undefined;
}

function listDir(d: string): string[] {
  try { return readdirSync(d).sort(); } catch (e: any) { throw new ZbError(`cannot read '${d}': ${e.code ?? e.message}`); }
}

function isDir(p: string): boolean {
  try { return lstatSync(p).isDirectory(); } catch { return false; }
}

/** "a, b, c" or "a, b, c and 4 more" */
function names(list: string[], max = 3): string {
  return list.length > max ? `${list.slice(0, max).join(', ')} and ${list.length - max} more` : list.join(', ');
}
