// zb-recv: a zb stream (or a plain zfs stream) into zfs receive. The last 64 KiB of
// the payload are held back until the end frame has arrived, so a cut stream never
// reaches zfs whole: zfs receive is killed and nothing is committed.
import { ZbError } from '../errors.js';
import { prog } from '../cli/command.js';
import { ZbReader } from '../stream/zb.js';
import { closeSync } from 'node:fs';
import { writeAll } from '../os/io.js';
import { pipes } from '../os/proc.js';
import * as z from './commands.js';
import type { ZfsHost } from './host.js';

/** Receive stdin into o.target with the zfs of host. */
export async function recv(host: ZfsHost, o: z.RecvOpts): Promise<void> {
  const r = await ZbReader.open(0, { plain: 'zfs', sync: true });   // blocking reads, like the writes
  const f = r.meta.filters.at(-1);
  if (f) {
    const undo = f.kind === 'compress' ? 'zb-compress -d' : f.kind === 'encrypt' ? 'zb-encrypt -d' : `zb-filter -d --name ${f.alg} -- COMMAND`;
    throw new ZbError(`stream is ${f.kind === 'compress' ? 'compressed' : f.kind === 'encrypt' ? 'encrypted' : 'filtered by a command'} (${f.alg}): put '${undo}' before zb-recv`);
  }
  const args = await z.recvArgs(host, o);
  const [[pr, pw]] = pipes(1, false);
  const c = host.start(args, [pr, 2]);   // locally a 1 MiB pipe into zfs, and our stdin too
  closeSync(pr);
  // everything but the last HOLD bytes seen goes to zfs at once: the stream's END record
  // (312 bytes) is in those, so zfs cannot commit before the end frame has arrived
  let held: Buffer | null = null;
  try {
    for await (const b of r.payload()) {
      if (!b.length) continue;   // held must never become empty
      const cut = Math.max(0, b.length - HOLD);
      if (held) writeAll(pw, cut ? [held, b.subarray(0, cut)] : [held]);
      else if (cut) writeAll(pw, b.subarray(0, cut));
      held = Buffer.from(b.subarray(cut));
    }
  } catch (e: any) {
    if (e?.code === 'EPIPE') await c.done.catch(() => { throw z.zfsError(args, c.tail()); });
    c.proc.kill('SIGKILL');
    closeSync(pw);
    await c.done.catch(() => {});
    throw e;
  }
  try { if (held) writeAll(pw, held); } catch { /* zfs receive gone: its own error below says why */ }
  closeSync(pw);
  await c.done.catch(async () => {
    if (!/I\/O error/.test(c.tail()) || !(await committedAnyway(host, o, r.meta))) throw z.zfsError(args, c.tail());
    process.stderr.write(`${prog}: warning: zfs receive reported an I/O error, but '${o.target}@${r.meta.snapshot}' is there with the stream's guid ${r.meta.guid}: taken as received (zfs-fuse fails so when -F replaces a dataset)\n`);
  });
}

/** zfs-fuse's receive -F of a full stream over an existing dataset now and then commits the
 *  snapshot and then says "I/O error": the guid on the target is the proof it arrived. */
async function committedAnyway(host: ZfsHost, o: z.RecvOpts, meta: { guid?: string; snapshot?: string; base?: unknown; recursive?: boolean }): Promise<boolean> {
  if (!o.force || o.discardFirst || meta.base || meta.recursive || !meta.guid || !meta.snapshot) return false;
  const snaps = await z.snapshots(host, o.target).catch(() => []);
  return snaps.some(s => s.snap === meta.snapshot && s.guid === meta.guid);
}

const HOLD = 64 << 10;
