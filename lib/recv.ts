// zb-recv: a zb stream (or a plain zfs stream) into zfs receive. The last piece of
// the payload is held back until the end frame has arrived, so a cut stream never
// reaches zfs whole: zfs receive is killed and nothing is committed.
import { ZbError } from './cli.js';
import { ZbReader } from './stream.js';
import { start, writeChild } from './proc.js';
import * as z from './zfs.js';

export async function recv(o: z.RecvOpts): Promise<void> {
  const r = await ZbReader.open(0, { plain: 'zfs' });
  const f = r.meta.filters.at(-1);
  if (f) {
    const undo = f.kind === 'compress' ? 'zb-compress -d' : 'zb-encrypt -d';
    throw new ZbError(`stream is ${f.kind === 'compress' ? 'compressed' : 'encrypted'} (${f.alg}): put '${undo}' before zb-recv`);
  }
  const args = await z.recvArgs(o);
  const c = start([z.ZFS(), ...args], ['pipe', 2, 'pipe']);
  c.proc.stdin!.on('error', () => {});
  let held: Buffer | null = null;
  try {
    for await (const b of r.payload()) {
      if (held) await writeChild(c.proc, held);
      held = Buffer.from(b);
    }
  } catch (e: any) {
    if (e?.code === 'EPIPE' || e?.code === 'ERR_STREAM_DESTROYED' || e?.code === 'ECONNRESET') {
      await c.done.catch(() => { throw z.zfsError(args, c.tail()); });
    }
    c.proc.kill('SIGKILL');
    c.proc.stdin!.destroy();
    await c.done.catch(() => {});
    throw e;
  }
  try {
    if (held) await writeChild(c.proc, held);
    c.proc.stdin!.end();
  } catch { /* zfs receive gone: its own error below says why */ }
  await c.done.catch(() => { throw z.zfsError(args, c.tail()); });
}
