// zb-send: one snapshot (latest by default) as a zb stream, metadata in the header.
import { ZbError } from '../errors.js';
import { ZbWriter, newMeta, type Meta } from '../stream/zb.js';
import { isEndRecord, isZfsStream, RECORD } from '../stream/zfs.js';
import { closeSync } from 'node:fs';
import { BUF, readFull } from '../os/io.js';
import { pipes, type Child } from '../os/proc.js';
import * as z from './commands.js';
import type { ZfsHost } from './host.js';

export interface SendOptions {
  target: string;          // DATASET or DATASET@SNAP
  snapshot?: string;       // SNAP (or DATASET@SNAP)
  base?: string;           // -i/-I/--from: snap, @snap, ds@snap, #bm, ds#bm
  intermediates?: boolean; // -I
  recursive?: boolean;     // -R
  raw?: boolean;           // -w
  props?: boolean;         // -p
  plain?: boolean;         // --raw: a plain zfs stream, no zb framing
  resumeToken?: string;    // -t
}

/** Resolve what to send into full names and the header metadata. */
export async function plan(host: ZfsHost, o: SendOptions): Promise<{ send: z.SendOpts; meta: Meta }> {
  const t = z.splitName(o.target);
  const ds = t.dataset;
  if (o.resumeToken) {
    return { send: { snapshot: '', resumeToken: o.resumeToken },
      meta: newMeta({ dataset: ds, resumed: true } as Partial<Meta>) };
  }
  const wantBookmark = !!o.base && o.base.includes('#');
  const snaps = await z.snapshots(host, ds, { bookmarks: wantBookmark });
  const real = snaps.filter(s => !s.bookmark);
  let name = o.snapshot ?? t.snap;
  if (name?.includes('@')) {
    const s = z.splitName(name);
    if (s.dataset !== ds) throw new ZbError(`snapshot '${name}' is not of dataset '${ds}'`);
    name = s.snap;
  }
  if (!real.length) throw new ZbError(`dataset '${ds}' has no snapshots: make one first (zfs snapshot ${ds}@NAME)`);
  const snap = name === undefined ? real[real.length - 1] : real.find(s => s.snap === name);
  if (!snap) throw new ZbError(`snapshot '${ds}@${name}' does not exist`);
  let base: z.Snapshot | undefined;
  if (o.base) {
    const b = o.base.replace(/^@/, '');
    const bn = /[@#]/.test(b) ? (b.startsWith('#') ? ds + b : b) : `${ds}@${b}`;
    base = snaps.find(s => s.name === bn);
    if (!base) throw new ZbError(`incremental base '${bn}' does not exist`);
    if (base.createtxg >= snap.createtxg) throw new ZbError(`incremental base '${bn}' is not older than '${snap.name}'`);
  }
  const send: z.SendOpts = { snapshot: snap.name, base: base?.name, intermediates: o.intermediates,
    recursive: o.recursive, raw: o.raw, props: o.props };
  const meta = newMeta({
    dataset: ds, snapshot: snap.snap, guid: snap.guid, createtxg: String(snap.createtxg), creation: snap.creation,
    base: base ? { name: (base.bookmark ? '#' : '') + base.snap, guid: base.guid } : null,
    intermediates: !!(base && o.intermediates), recursive: !!o.recursive, raw: !!o.raw,
    size: o.plain ? null : await z.estimate(host, send),
  });
  return { send, meta };
}

/** Send what o names, with the zfs of host, to stdout. */
export async function send(host: ZfsHost, o: SendOptions): Promise<void> {
  const { send: so, meta } = await plan(host, o);
  const args = await z.sendArgs(host, so);
  if (o.plain) {
    const c = host.start(args, ['ignore', 1]);   // our stdout is its (locally: 1 MiB)
    await c.done.catch(() => { throw sendFailed(args, c.tail()); });
    return;
  }
  // zfs writes into a 1 MiB pipe that we read with blocking 1 MiB reads: a frame each
  const w = new ZbWriter(1, meta, false, true), buf = Buffer.allocUnsafe(BUF);
  for (let attempt = 1; ; attempt++) {
    const [[r, pw]] = pipes(1, false);
    const c = host.start(args, ['ignore', pw]);   // locally its pipe and our stdout: 1 MiB
    closeSync(pw);
    const check = new StreamCheck();
    try {
      if (attempt === 1) await w.start();   // in here: our reader may be gone already
      for (let n; (n = readFull(r, buf)) > 0;) { check.see(buf.subarray(0, n)); await w.write(buf.subarray(0, n)); }
    } catch (e) {
      // zfs (zfs-fuse: its daemon) writes into r: closed, its write fails instead of waiting
      // for a read that never comes, while we would wait for it to exit
      closeSync(r);
      stop(c);
      throw e;
    }
    closeSync(r);
    await c.done.catch(() => { throw sendFailed(args, c.tail()); });
    // zfs-fuse, with several sends at once, now and then exits 0 having written nothing;
    // nothing of the payload has gone out then, so running it again is safe
    if (check.total === 0 && attempt < 3) {
      process.stderr.write(`zb-send: warning: zfs send wrote nothing for '${so.snapshot}'; running it again\n`);
      continue;
    }
    check.verify(so.snapshot || 'the resumed stream');
    break;
  }
  await w.end();
}

/** SIGTERM, and SIGKILL if it is still there after 2 s (the timer does not keep us alive). */
function stop(c: Child): void {
  c.proc.kill('SIGTERM');
  setTimeout(() => { if (c.proc.exitCode === null && !c.proc.signalCode) c.proc.kill('SIGKILL'); }, 2000).unref();
}

/** zfs exiting 0 is not enough: the stream must begin with a BEGIN record and end with an END one. */
class StreamCheck {
  private head = Buffer.alloc(0);
  private tail = Buffer.alloc(0);
  total = 0;
  see(b: Buffer): void {
    this.total += b.length;
    if (this.head.length < 16) this.head = Buffer.concat([this.head, b.subarray(0, 16)]);
    this.tail = Buffer.concat([this.tail, b.subarray(-RECORD)]).subarray(-RECORD);
  }
  verify(what: string): void {
    if (this.total === 0) throw new ZbError(`zfs send exited 0 but wrote nothing for '${what}'; nothing was stored`);
    if (!isZfsStream(this.head) || !isEndRecord(this.tail))
      throw new ZbError(`zfs send exited 0 but its output for '${what}' is not a whole zfs stream (${this.total} bytes); nothing was stored`);
  }
}

function sendFailed(args: string[], tail: string): ZbError {
  const e = z.zfsError(args, tail);
  return e instanceof z.OtherZfsError ? new ZbError(`zfs send failed: ${tail.trim().split('\n').slice(-2).join('; ') || 'no message'}`) : e;
}
