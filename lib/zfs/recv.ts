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
import type { Running, ZfsHost } from './host.js';
import { ChannelWriter } from '../ssh/write.js';

/** Receive stdin into o.target with the zfs of host. A remote host gets the data through a
 *  stream (the same hold-back); `through` is a filter it runs first (a decompressor, for a
 *  stream whose last filter is the compression in `decompress`). */
export async function recv(host: ZfsHost, o: z.RecvOpts, decompress?: (alg: string) => Promise<string[] | undefined>): Promise<void> {
  // locally blocking reads, like the writes; remotely views that stay valid, for the channel
  // to queue without a copy (a copy of every byte cost a tenth of zb-recv-ssh's CPU)
  const fresh = host.remote;
  const r = await ZbReader.open(0, { plain: 'zfs', sync: !fresh, fresh });
  const f = r.meta.filters.at(-1);
  const through = f?.kind === 'compress' && r.meta.filters.length === 1 ? await decompress?.(f.alg) : undefined;
  if (f && !through) {
    const undo = f.kind === 'compress' ? 'zb-compress -d' : f.kind === 'encrypt' ? 'zb-encrypt -d' : `zb-filter -d --name ${f.alg} -- COMMAND`;
    throw new ZbError(`stream is ${f.kind === 'compress' ? 'compressed' : f.kind === 'encrypt' ? 'encrypted' : 'filtered by a command'} (${f.alg})${decompress && f.kind === 'compress' ? ` and '${host.name}' has no ${f.alg} to decompress it` : ''}: put '${undo}' before ${prog}`);
  }
  const args = await z.recvArgs(host, o);
  const { c, sink } = await open(host, args, through);
  // everything but the last HOLD bytes seen goes to zfs at once: the stream's END record
  // (312 bytes) is in those, so zfs cannot commit before the end frame has arrived (through
  // a decompressor too: what it emits is a prefix, and the END record is encoded last)
  let held: Buffer | null = null;
  try {
    for await (const b of r.payload()) {
      if (!b.length) continue;   // held must never become empty
      const cut = Math.max(0, b.length - HOLD);
      const w = held ? (cut ? [held, b.subarray(0, cut)] : [held]) : cut ? [b.subarray(0, cut)] : [];
      if (w.length) { const p = sink.write(w); if (p) await p; }
      held = fresh ? b.subarray(cut) : Buffer.from(b.subarray(cut));   // a reused view is copied
    }
  } catch (e: any) {
    if (e?.code === 'EPIPE') await c.done.catch(() => { throw z.zfsError(args, c.tail()); });
    c.stop();
    sink.close();
    await c.done.catch(() => {});
    throw e;
  }
  try { if (held) { const p = sink.write([held]); if (p) await p; } } catch { /* zfs receive gone: its own error below says why */ }
  sink.end();
  await c.done.catch(async (e) => {
    if (host.remote && !/exit code/.test(e.message)) throw e;   // the connection, not zfs
    if (!/I\/O error/.test(c.tail()) || !(await committedAnyway(host, o, r.meta))) throw z.zfsError(args, c.tail());
    process.stderr.write(`${prog}: warning: zfs receive reported an I/O error, but '${o.target}@${r.meta.snapshot}' is there with the stream's guid ${r.meta.guid}: taken as received (zfs-fuse fails so when -F replaces a dataset)\n`);
  });
}

/** Where the payload goes: locally a blocking 1 MiB pipe into zfs; remotely the channel's
 *  stream, waited on when full (and given up when zfs has exited). */
interface Sink { write(b: Buffer[]): void | Promise<void>; end(): void; close(): void }

async function open(host: ZfsHost, args: string[], through?: string[]): Promise<{ c: Running; sink: Sink }> {
  if (host.remote) {
    const c = await host.start(args, ['pipe', 'ignore'], through);
    const w = c.stdin!, cw = new ChannelWriter(w);
    const gone = c.done.then(() => { throw new ZbError('zfs receive exited before the end of the stream'); }, (e) => { throw e; });
    gone.catch(() => {});
    return { c, sink: {
      // sealed a write at a time (lib/ssh/write.ts); what waits on ssh2's queue is not
      // copied: the reader hands out fresh buffers
      write: async (bs) => { for (const b of bs) { const p = cw.write(b); if (p) await Promise.race([p, gone]); } },
      end: () => w.end(), close: () => w.destroy(),
    } };
  }
  const [[pr, pw]] = pipes(1, false);
  const c = await host.start(args, [pr, 2]);   // locally a 1 MiB pipe into zfs, and our stdin too
  closeSync(pr);
  let open = true;
  const close = () => { if (open) { open = false; closeSync(pw); } };
  return { c, sink: { write: (bs) => writeAll(pw, bs), end: close, close } };
}
/** zfs-fuse's receive -F of a full stream over an existing dataset now and then commits the
 *  snapshot and then says "I/O error": the guid on the target is the proof it arrived. */
async function committedAnyway(host: ZfsHost, o: z.RecvOpts, meta: { guid?: string; snapshot?: string; base?: unknown; recursive?: boolean }): Promise<boolean> {
  if (!o.force || o.discardFirst || meta.base || meta.recursive || !meta.guid || !meta.snapshot) return false;
  const snaps = await z.snapshots(host, o.target).catch(() => []);
  return snaps.some(s => s.snap === meta.snapshot && s.guid === meta.guid);
}

const HOLD = 64 << 10;
