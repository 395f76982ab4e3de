// zb-recv: a zb stream (or a plain zfs stream) into zfs receive. The last 64 KiB of
// the payload are held back until the end frame has arrived, so a cut stream never
// reaches zfs whole: zfs receive is killed and nothing is committed.
import { ZbError } from './cli.js';
import { ZbReader } from './stream.js';
import { closeSync } from 'node:fs';
import { writeAll } from './io.js';
import { start, pipes } from './proc.js';
import * as z from './zfs.js';

export async function recv(o: z.RecvOpts): Promise<void> {
  const r = await ZbReader.open(0, { plain: 'zfs', sync: true });   // blocking reads, like the writes
  const f = r.meta.filters.at(-1);
  if (f) {
    const undo = f.kind === 'compress' ? 'zb-compress -d' : 'zb-encrypt -d';
    throw new ZbError(`stream is ${f.kind === 'compress' ? 'compressed' : 'encrypted'} (${f.alg}): put '${undo}' before zb-recv`);
  }
  const args = await z.recvArgs(o);
  const [[pr, pw]] = pipes(1, false);
  const c = start([z.ZFS(), ...args], [pr, 2, 'pipe'], { grow: true });   // a 1 MiB pipe into zfs; our stdin too
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
  await c.done.catch(() => { throw z.zfsError(args, c.tail()); });
}

const HOLD = 64 << 10;
