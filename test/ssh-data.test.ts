// What zb-recv-ssh writes to a remote command's channel (the views its reader hands out,
// queued by the channel without a copy) arrives byte for byte against a real sshd: when the
// window runs out (a remote that reads late), through a key exchange in the middle of the
// stream (packets queue until it is done), in writes of every size around the 32 KiB packet.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ROOT } from './lib/util.js';
import { sshd } from './lib/sshd.js';

const remote = await import(join(ROOT, 'dist/lib/zfs/remote.js'));

/** Write bufs to `cmd` there (after each, `between(i)`), and return what it printed. */
async function through(host: any, cmd: string, bufs: Buffer[], between: (i: number) => void = () => {}): Promise<string> {
  const c = await host.exec(cmd, 'sum');
  const out: Buffer[] = [];
  c.stdout.on('data', (d: Buffer) => out.push(d));
  for (let i = 0; i < bufs.length; i++) {
    if (!c.stdin.write(bufs[i])) await new Promise(r => c.stdin.once('drain', r));
    between(i);
  }
  c.stdin.end();
  await c.done;
  return Buffer.concat(out).toString().split(' ')[0];
}
const sum = (bufs: Buffer[]) => { const h = createHash('sha256'); for (const b of bufs) h.update(b); return h.digest('hex'); };

t.test('byte for byte: a full window, a key exchange mid-stream, writes of every size', async (t) => {
  const s = await sshd(t); s.known();
  process.env.HOME = s.home; process.env.SSH_AUTH_SOCK = '';
  const host = new remote.SshZfs({ host: '127.0.0.1', port: s.port, user: 'root' });
  t.teardown(() => host.close());
  // 12 MiB to a remote that starts reading after 1 s: the 2 MiB window runs out, writes wait
  const big = Array.from({ length: 12 }, () => randomBytes(1 << 20));
  t.equal(await through(host, 'sleep 1; sha256sum', big), sum(big), 'a window that ran out');
  // a key exchange started after the 3rd MiB: packets queue until it is done
  const client = (await host.conn).client;
  let rekeyed = false;
  client.once('handshake', () => { rekeyed = true; });   // a handshake again: the new keys
  const more = Array.from({ length: 8 }, () => randomBytes(1 << 20));
  t.equal(await through(host, 'sha256sum', more, (i) => { if (i === 2) client._protocol.rekey(); }), sum(more), 'through a key exchange');
  t.ok(rekeyed, 'the keys were exchanged again');
  // sizes around a packet (32 KiB of data) and odd ones
  const sizes = [1, 15, 16, 17, 32767, 32768, 32769, 65536, 65537, 100_000, 1 << 20, (1 << 20) + 3];
  const odd = sizes.map(n => randomBytes(n));
  t.equal(await through(host, 'sha256sum', odd), sum(odd), 'writes of every size');
});
