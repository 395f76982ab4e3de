// What zb-recv-ssh writes to a remote command's channel arrives byte for byte against a real
// sshd: when the window runs out (a remote that reads late), through a key exchange in the
// middle of the stream (ours, or the server's every MiB: packets queue until it is done), in
// writes of every size around the 32 KiB packet. Both ways: ssh2's own channel write, and the
// ChannelWriter that seals a write's packets at once (lib/ssh/write.ts), which must take its
// fast way with AES-GCM (else an ssh2 upgrade has changed what it relies on) and ssh2's way
// with another cipher.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ROOT } from './lib/util.js';
import { sshd } from './lib/sshd.js';

const remote = await import(join(ROOT, 'dist/lib/zfs/remote.js'));
const { ChannelWriter } = await import(join(ROOT, 'dist/lib/ssh/write.js'));

type Way = 'ssh2' | 'sealed';
/** Write bufs to `cmd` there (after each, `between(i)`): what it printed, and the bytes sealed. */
async function through(host: any, way: Way, cmd: string, bufs: Buffer[], between: (i: number) => void = () => {}): Promise<{ out: string; sealed: number }> {
  const c = await host.exec(cmd, 'sum');
  const out: Buffer[] = [];
  c.stdout.on('data', (d: Buffer) => out.push(d));
  const cw = new ChannelWriter(c.stdin);
  for (let i = 0; i < bufs.length; i++) {
    if (way === 'sealed') { const p = cw.write(bufs[i]); if (p) await p; }
    else if (!c.stdin.write(bufs[i])) await new Promise(r => c.stdin.once('drain', r));
    between(i);
  }
  c.stdin.end();
  await c.done;
  return { out: Buffer.concat(out).toString().split(' ')[0], sealed: cw.sealed };
}
const sum = (bufs: Buffer[]) => { const h = createHash('sha256'); for (const b of bufs) h.update(b); return h.digest('hex'); };
const total = (bufs: Buffer[]) => bufs.reduce((n, b) => n + b.length, 0);

async function connect(t: any, extra: string[] = []) {
  const s = await sshd(t, extra); s.known();
  process.env.HOME = s.home; process.env.SSH_AUTH_SOCK = '';
  const host = new remote.SshZfs({ host: '127.0.0.1', port: s.port, user: 'root' });
  t.teardown(() => host.close());
  await host.connect();
  return host;
}

for (const way of ['ssh2', 'sealed'] as Way[]) {
  t.test(`${way}: byte for byte through a full window, a key exchange mid-stream, writes of every size`, async (t) => {
    const host = await connect(t);
    // 12 MiB to a remote that starts reading after 1 s: the 2 MiB window runs out, writes wait
    const big = Array.from({ length: 12 }, () => randomBytes(1 << 20));
    const a = await through(host, way, 'sleep 1; sha256sum', big);
    t.equal(a.out, sum(big), 'a window that ran out');
    if (way === 'sealed') t.equal(a.sealed, total(big), 'every byte sealed the fast way');
    // a key exchange started after the 3rd MiB: packets queue until it is done
    const client = (await host.conn).client;
    let rekeyed = false;
    client.once('handshake', () => { rekeyed = true; });   // a handshake again: the new keys
    const more = Array.from({ length: 8 }, () => randomBytes(1 << 20));
    const k = await through(host, way, 'sha256sum', more, (i) => { if (i === 2) client._protocol.rekey(); });
    t.equal(k.out, sum(more), 'through a key exchange');
    t.ok(rekeyed, 'the keys were exchanged again');
    if (way === 'sealed') t.ok(k.sealed >= 3 << 20 && k.sealed < total(more), `fast before it and after it, ssh2's queue while it ran (${k.sealed} of ${total(more)} sealed)`);
    // sizes around a packet (32 KiB of data) and odd ones
    const sizes = [1, 15, 16, 17, 32767, 32768, 32769, 65536, 65537, 100_000, 1 << 20, (1 << 20) + 3];
    const odd = sizes.map(n => randomBytes(n));
    const o = await through(host, way, 'sha256sum', odd);
    t.equal(o.out, sum(odd), 'writes of every size');
    if (way === 'sealed') t.equal(o.sealed, total(odd));
  });
}

t.test('sealed, with the server starting a key exchange every MiB (RekeyLimit 1M): byte for byte', async (t) => {
  const host = await connect(t, ['RekeyLimit 1M', 'SetEnv PATH=/usr/local/bin:/usr/bin:/bin']);
  const client = (await host.conn).client;
  let kex = 0;
  client.on('handshake', () => { kex++; });
  const bufs = Array.from({ length: 16 }, () => randomBytes(1 << 20));
  const r = await through(host, 'sealed', 'sha256sum', bufs);
  t.equal(r.out, sum(bufs));
  t.ok(kex >= 4, `the server rekeyed ${kex} times`);
  t.ok(r.sealed > 0 && r.sealed <= total(bufs), `${r.sealed} of ${total(bufs)} bytes sealed the fast way`);
});

t.test('sealed, with a cipher other than AES-GCM: ssh2 writes it all, byte for byte', async (t) => {
  const host = await connect(t, ['Ciphers chacha20-poly1305@openssh.com', 'SetEnv PATH=/usr/local/bin:/usr/bin:/bin']);
  const bufs = Array.from({ length: 6 }, () => randomBytes(1 << 20));
  const r = await through(host, 'sealed', 'sleep 0.5; sha256sum', bufs);
  t.equal(r.out, sum(bufs));
  t.equal(r.sealed, 0, 'nothing the fast way');
});
