// The only module that knows zfs syntax: capability probe, snapshot listing with
// guid/createtxg/creation, send/receive argv, and stderr turned into errors that
// say what to do. Identity is guid (+ createtxg); names are for people. Every query
// takes the host whose zfs it asks (host.ts: where and how zfs runs).
// (Longer than 200 lines on purpose: all of zfs's syntax stays in this one file.)
import { ZbError } from '../errors.js';
import type { ZfsHost } from './host.js';

export interface Caps {
  listP: boolean;      // zfs list -p
  sendEstimate: boolean; // zfs send -nvP
  sendRaw: boolean;    // zfs send -w
  resume: boolean;     // zfs send -t / receive -s
  recvU: boolean;      // zfs receive -u
  bookmarks: boolean;  // zfs bookmark
}

export interface Snapshot {
  name: string;        // full name: pool/ds@snap (or pool/ds#bookmark)
  dataset: string;
  snap: string;        // the part after @ (or #)
  guid: string;        // decimal u64
  createtxg: bigint;
  creation: number;    // seconds since the epoch
  bookmark?: boolean;
}

export class ZfsError extends ZbError {}
export class NoDatasetError extends ZfsError {}
/** zfs failed with a message zfsError() does not know: the argv and zfs's words. */
export class OtherZfsError extends ZfsError {}

/** Probe what a host's zfs supports, from its usage text (one call; the host caches it). */
export async function probeCaps(host: ZfsHost): Promise<Caps> {
  const r = await host.run([]);
  const u = `${r.stdout}\n${r.stderr}`;
  // the option letters each command's usage lines show, e.g. "send [-DLPbcehnpsvw] ..."
  const flags = (cmd: string) => new Set(u.split('\n').filter(l => new RegExp(`^\\s+${cmd}\\b`).test(l))
    .flatMap(l => [...l.matchAll(/-([A-Za-z]+)/g)].flatMap(m => [...m[1]])));
  const send = flags('send'), recv = flags('(receive|recv)'), list = flags('list');
  return {
    listP: list.has('p'),
    sendEstimate: send.has('n') && send.has('P'),
    sendRaw: send.has('w'),
    resume: send.has('t') && recv.has('s'),
    recvU: recv.has('u'),
    bookmarks: /^\s+bookmark\b/m.test(u),
  };
}

/** Run zfs on host with argv; its stdout, or a typed error from its stderr. */
export async function output(host: ZfsHost, args: string[]): Promise<string> {
  const r = await host.run(args);
  if (r.code !== 0 || r.errno) throw zfsError(args, r.stderr, r.code);
  return r.stdout;
}

/** Turn zfs's stderr into an error whose message says what failed and what to do. */
export function zfsError(args: string[], stderr: string, code = 1): ZbError {
  const s = stderr.trim().replace(/\s*\n\s*/g, ' ');
  let m: RegExpExecArray | null;
  if ((m = /cannot open '([^']+)': dataset does not exist/.exec(s)))
    return new NoDatasetError(`dataset '${m[1]}' does not exist`);
  if ((m = /could not send ([^:]+): does not exist/.exec(s)))
    return new NoDatasetError(`snapshot '${m[1]}' does not exist`);
  if ((m = /destination '?([^' ]+)'? exists.*must specify -F/.exec(s)))
    return new ZfsError(`target '${m[1]}' already exists and has no snapshot in common with the source: choose another target, or replace it (zfsbackup --force, zb-recv -F: its content is lost)`);
  if ((m = /destination (\S+) has been modified since most recent snapshot/.exec(s)))
    return new ZfsError(`target '${m[1]}' was changed since its latest snapshot (even reading a mounted copy changes it): receiving would roll that back; snapshot it or roll it back yourself (zfs rollback), or discard the change (zfsbackup --force, zb-recv -F)`);
  if (/most recent snapshot of (\S+) does not match incremental source/.exec(s))
    return new ZfsError(`the target's latest snapshot is not the incremental base: ${s}`);
  if (/destination has snapshots/.test(s))
    return new ZfsError(`target has snapshots and the stream is a full one: send an incremental, or replace the target (zfsbackup --force, zb-recv -F: its snapshots are destroyed) (${s})`);
  if (/not an earlier snapshot from the same fs/.test(s))
    return new ZfsError(`the incremental base is not an earlier snapshot of the same dataset (${s})`);
  if (/out of space|no space left/i.test(s)) return new ZfsError(`target pool is out of space (${s})`);
  if (/permission denied/i.test(s)) return new ZfsError(`permission denied: run as root or 'zfs allow' the needed permissions (${s})`);
  return new OtherZfsError(`'zfs ${args.join(' ')}' failed${code ? ` with exit code ${code}` : ''}${s ? ': ' + s : ''}`);
}

export async function exists(host: ZfsHost, ds: string): Promise<boolean> {
  try { await output(host, ['get', '-H', '-o', 'value', 'name', ds]); return true; }
  catch (e) { if (e instanceof NoDatasetError) return false; throw e; }
}

/** Snapshots of ds (and of its descendants when recursive), oldest first by createtxg. */
export async function snapshots(host: ZfsHost, ds: string, opts: { recursive?: boolean; bookmarks?: boolean } = {}): Promise<Snapshot[]> {
  const c = await host.caps();
  const rows: string[][] = [];
  const props = 'guid,createtxg,creation';
  if (c.listP) {
    const types = opts.bookmarks && c.bookmarks ? 'snapshot,bookmark' : 'snapshot';
    const args = ['list', '-H', '-p', '-o', `name,${props}`, '-t', types, ...(opts.recursive ? ['-r'] : ['-d', '1']), ds];
    for (const l of (await output(host, args)).split('\n')) if (l) rows.push(l.split('\t'));
  } else {
    // zfs-fuse: no list -p, no get -t; get -Hp over the dataset and its snapshots
    const out = await output(host, ['get', '-Hp', '-o', 'name,property,value', props, ...(opts.recursive ? ['-r'] : ['-d', '1']), ds])
      .catch(async (e) => {
        if (opts.recursive || !(e instanceof ZfsError) || e instanceof NoDatasetError) throw e;
        return output(host, ['get', '-Hp', '-r', '-o', 'name,property,value', props, ds]);  // no -d in very old zfs
      });
    const byName = new Map<string, Record<string, string>>();
    for (const l of out.split('\n')) {
      if (!l) continue;
      const f = l.split('\t');
      if (f.length !== 3) throw new ZfsError(`unexpected output from 'zfs get': ${JSON.stringify(l)}`);
      if (!byName.has(f[0])) byName.set(f[0], {});
      byName.get(f[0])![f[1]] = f[2];
    }
    for (const [name, p] of byName) rows.push([name, p.guid, p.createtxg, p.creation]);
  }
  const snaps: Snapshot[] = [];
  for (const f of rows) {
    if (f.length !== 4) throw new ZfsError(`unexpected output from zfs: ${JSON.stringify(f.join('\t'))}`);
    const [name, guid, txg, creation] = f;
    const at = name.search(/[@#]/);
    if (at < 0) continue;
    const dataset = name.slice(0, at);
    if (!opts.recursive && dataset !== ds) continue;
    if (!/^\d+$/.test(guid) || !/^\d+$/.test(txg)) throw new ZfsError(`unexpected guid/createtxg for '${name}': ${guid} ${txg}`);
    snaps.push({ name, dataset, snap: name.slice(at + 1), guid, createtxg: BigInt(txg), creation: Number(creation),
      ...(name[at] === '#' ? { bookmark: true } : {}) });
  }
  snaps.sort((a, b) => a.createtxg < b.createtxg ? -1 : a.createtxg > b.createtxg ? 1 : a.name.localeCompare(b.name));
  return snaps;
}

/** The newest source snapshot whose guid is also on the target: the incremental base. */
export function commonBase(source: Snapshot[], target: Snapshot[]): Snapshot | undefined {
  const have = new Set(target.map(s => s.guid));
  return [...source].reverse().find(s => have.has(s.guid));
}

/** Target snapshots that share a name with a source snapshot but not its guid (never a base). */
export function nameClashes(source: Snapshot[], target: Snapshot[]): string[] {
  const src = new Map(source.map(s => [s.snap, s.guid]));
  return target.filter(t => src.has(t.snap) && src.get(t.snap) !== t.guid).map(t => t.snap);
}

export interface SendOpts {
  snapshot: string;          // full name ds@snap
  base?: string;             // full name ds@snap or ds#bookmark
  intermediates?: boolean;   // -I instead of -i
  recursive?: boolean;       // -R
  raw?: boolean;             // -w
  props?: boolean;           // -p
  resumeToken?: string;      // -t
}

export async function sendArgs(host: ZfsHost, o: SendOpts): Promise<string[]> {
  const c = await host.caps();
  if (o.resumeToken) {
    if (!c.resume) throw new ZfsError('this zfs cannot resume a send (no send -t): needs OpenZFS 0.7 or later');
    return ['send', '-t', o.resumeToken];
  }
  if (o.raw && !c.sendRaw) throw new ZfsError('this zfs cannot send raw streams (-w): needs OpenZFS 0.8 or later');
  const a = ['send'];
  if (o.recursive) a.push('-R');
  if (o.raw) a.push('-w');
  if (o.props) a.push('-p');
  if (o.base) a.push(o.intermediates ? '-I' : '-i', o.base);
  a.push(o.snapshot);
  return a;
}

/** The size zfs expects the stream to have (send -nvP), or null where it cannot tell. */
export async function estimate(host: ZfsHost, o: SendOpts): Promise<number | null> {
  const c = await host.caps();
  if (!c.sendEstimate) return null;
  const args = await sendArgs(host, o);
  const out = await output(host, [args[0], '-n', '-v', '-P', ...args.slice(1)]).catch(() => '');
  const m = /^size\s+(\d+)/m.exec(out);
  return m ? Number(m[1]) : null;
}

export interface RecvOpts {
  target: string;
  force?: boolean;       // -F
  discardFirst?: boolean; // -d
  noMount?: boolean;     // -u
  resumable?: boolean;   // -s
  verbose?: boolean;     // -v
}

export async function recvArgs(host: ZfsHost, o: RecvOpts): Promise<string[]> {
  const c = o.noMount || o.resumable ? await host.caps() : undefined;   // a remote's probe costs a channel
  const a = ['receive'];
  if (o.force) a.push('-F');
  if (o.discardFirst) a.push('-d');
  if (o.verbose) a.push('-v');
  if (o.noMount) {
    if (!c!.recvU) throw new ZfsError('this zfs cannot receive without mounting (-u)');
    a.push('-u');
  }
  if (o.resumable) {
    if (!c!.resume) throw new ZfsError('this zfs cannot make a receive resumable (-s): needs OpenZFS 0.7 or later');
    a.push('-s');
  }
  a.push(o.target);
  return a;
}

/** Create a dataset and its missing parents (zfs create -p). */
export async function createParents(host: ZfsHost, ds: string): Promise<void> {
  if (await exists(host, ds)) return;
  await output(host, ['create', '-p', ds]);
}

export async function resumeToken(host: ZfsHost, ds: string): Promise<string | null> {
  const c = await host.caps();
  if (!c.resume) return null;
  const v = (await output(host, ['get', '-H', '-o', 'value', 'receive_resume_token', ds]).catch(() => '-')).trim();
  return v && v !== '-' ? v : null;
}

/** A filesystem of a target tree, with where it is mounted (null: not mounted). */
export interface Mounted { name: string; mountpoint: string | null }

/** ds and its descendant filesystems (parents first), with their mountpoints when mounted. */
export async function filesystems(host: ZfsHost, ds: string): Promise<Mounted[]> {
  const out = await output(host, ['list', '-H', '-o', 'name,mounted,mountpoint', '-t', 'filesystem', '-r', ds]);
  return out.split('\n').filter(Boolean).map((l) => {
    const f = l.split('\t');
    if (f.length !== 3) throw new ZfsError(`unexpected output from 'zfs list': ${JSON.stringify(l)}`);
    return { name: f[0], mountpoint: f[1] === 'yes' && f[2].startsWith('/') ? f[2] : null };
  }).sort((a, b) => a.name.localeCompare(b.name));
}

/** Bytes written to ds since its latest snapshot (the `written` property), or null where zfs
 *  has no such property (zfs-fuse, pool version 23). */
export async function written(host: ZfsHost, ds: string): Promise<number | null> {
  const r = await host.run(['get', '-Hp', '-o', 'value', 'written', ds]);
  if (r.code === 0) return Number(r.stdout.trim());
  if (/bad property list|invalid property/.test(r.stderr)) return null;
  throw zfsError(['get', 'written', ds], r.stderr, r.code);
}

/** The name zfsbackup gives the snapshots and clones it makes to compare a target with its
 *  snapshot (on zfs-fuse, which has no .zfs directory): POOL/zfsbackup-check-PID-N and
 *  DS@zfsbackup-check-PID-N. A name of this shape with a dead pid is a leftover of ours. */
export const CHECK = 'zfsbackup-check-';
const CHECK_RE = new RegExp(`^[^/@]+(/[^@]+)?@${CHECK}(\\d+)-\\d+$|^[^/@]+/${CHECK}(\\d+)-\\d+$`);
let checkSeq = 0;

/** The pid in a check snapshot's or clone's name, or undefined for any other name. */
export function checkPid(name: string): number | undefined {
  const m = CHECK_RE.exec(name);
  return m ? Number(m[2] ?? m[3]) : undefined;
}

/** Snapshot ds as DS@zfsbackup-check-PID-N (what it holds now, without reading its mount). */
export async function checkSnapshot(host: ZfsHost, ds: string): Promise<string> {
  const name = `${ds}@${CHECK}${process.pid}-${checkSeq++}`;
  await output(host, ['snapshot', name]);
  return name;
}

/** Clone snap as POOL/zfsbackup-check-PID-N, read-only, mounted at mnt. */
export async function checkClone(host: ZfsHost, snap: string, mnt: string): Promise<string> {
  const name = `${snap.split(/[/@]/)[0]}/${CHECK}${process.pid}-${checkSeq++}`;
  await output(host, ['clone', '-o', 'readonly=on', '-o', `mountpoint=${mnt}`, snap, name]);
  return name;
}

/** Destroy a snapshot or clone made by checkSnapshot/checkClone, and nothing else (the name
 *  is checked). zfs-fuse says "dataset is busy" for a moment after a mount: retry a while. */
export async function destroyCheck(host: ZfsHost, name: string): Promise<void> {
  if (checkPid(name) === undefined) throw new ZbError(`internal error: '${name}' is not a check snapshot or clone`);
  for (let i = 0; ; i++) {
    const r = await host.run(['destroy', name]);
    if (r.code === 0 || /does not exist/.test(r.stderr)) return;
    if (i >= 50 || !/busy/.test(r.stderr)) throw zfsError(['destroy', name], r.stderr, r.code);
    await new Promise((res) => setTimeout(res, 200));
  }
}

/** Split "pool/ds@snap" / "pool/ds#bm" / "pool/ds". */
export function splitName(n: string): { dataset: string; snap?: string; bookmark?: boolean } {
  const i = n.search(/[@#]/);
  return i < 0 ? { dataset: n } : { dataset: n.slice(0, i), snap: n.slice(i + 1), bookmark: n[i] === '#' };
}

/** Put a hold `tag` on snap (and, recursive, on the same snapshot of its descendants). */
export async function hold(host: ZfsHost, tag: string, snap: string, recursive?: boolean): Promise<void> {
  const r = await host.run(['hold', ...(recursive ? ['-r'] : []), tag, snap]);
  if (r.code !== 0 && !/tag already exists/.test(r.stderr)) throw zfsError(['hold', tag, snap], r.stderr, r.code);
}

/** The snapshots of ds that carry any hold (userrefs > 0: zfs-fuse cannot list tags, zfs holds
 *  needs its pyzfs there). */
export async function heldSnapshots(host: ZfsHost, ds: string): Promise<string[]> {
  const out = await output(host, ['get', '-Hp', '-o', 'name,value', 'userrefs', '-d', '1', ds])
    .catch(() => output(host, ['get', '-Hp', '-r', '-o', 'name,value', 'userrefs', ds]));
  return out.split('\n').map(l => l.split('\t')).filter(f => f.length === 2 && f[0].startsWith(`${ds}@`) && Number(f[1]) > 0).map(f => f[0]);
}

/** Release the hold `tag` from snap (recursive: and from its descendants'). OpenZFS's -r fails
 *  as a whole when one of them lacks the tag (and a child the snapshot): then one by one. */
export async function release(host: ZfsHost, tag: string, snap: string, recursive?: boolean): Promise<void> {
  const r = await host.run(['release', ...(recursive ? ['-r'] : []), tag, snap]);
  if (r.code === 0 || (!recursive && /no such tag/.test(r.stderr))) return;
  if (!recursive || !/no such tag|does not exist/.test(r.stderr)) throw zfsError(['release', tag, snap], r.stderr, r.code);
  const { dataset, snap: name } = splitName(snap);
  for (const s of await snapshots(host, dataset, { recursive: true })) if (s.snap === name) await release(host, tag, s.name);
}

/** Bookmark snap as `name` (ds#mark); one already there under that name is left as it is
 *  (the caller checks its guid). */
export async function bookmark(host: ZfsHost, snap: string, name: string): Promise<void> {
  const r = await host.run(['bookmark', snap, name]);
  if (r.code !== 0 && !/bookmark exists/.test(r.stderr)) throw zfsError(['bookmark', snap, name], r.stderr, r.code);
}

/** Destroy the bookmark `name` (ds#mark: never a snapshot or a dataset). */
export async function destroyBookmark(host: ZfsHost, name: string): Promise<void> {
  if (!/^[^@#]+#[^@#]+$/.test(name)) throw new ZbError(`internal error: '${name}' is not a bookmark`);
  const r = await host.run(['destroy', name]);
  if (r.code !== 0 && !/does not exist/.test(r.stderr)) throw zfsError(['destroy', name], r.stderr, r.code);
}
