// FdReader (lib/os/io.ts) over a real pipe: a fresh reader's views stay valid while later
// reads go on (zb-recv-ssh queues them on the ssh channel without copying), small reads
// share a buffer instead of pinning one each; a reader that is not fresh reuses its buffer.
// Over a file and with a zb header split over many tiny writes, the same bytes.
import t from 'tap';
import { spawn } from 'node:child_process';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { ROOT, tmp } from './lib/util.js';
import { zbWrap } from './lib/zbstream.js';

const io = await import(join(ROOT, 'dist/lib/os/io.js'));
const proc = await import(join(ROOT, 'dist/lib/os/proc.js'));
const zb = await import(join(ROOT, 'dist/lib/stream/zb.js'));

// 300 writes of 4 KiB with pauses (small reads), then 16 of 512 KiB: each chunk its own byte
const WRITER = `import sys, time
o = sys.stdout.buffer
for i in range(300):
    o.write(bytes([i % 251]) * 4096); o.flush()
    if i % 10 == 0: time.sleep(0.002)
for i in range(16):
    o.write(bytes([(i * 7) % 251]) * (512 << 10)); o.flush()`;
const expected = () => {
  const h = createHash('sha256');
  for (let i = 0; i < 300; i++) h.update(Buffer.alloc(4096, i % 251));
  for (let i = 0; i < 16; i++) h.update(Buffer.alloc(512 << 10, (i * 7) % 251));
  return h.digest('hex');
};

/** Every view some() hands out, kept (not copied) until the writer is done. */
async function readAll(fresh: boolean) {
  const [[r, w]] = proc.pipes(1);
  const child = spawn('python3', ['-c', WRITER], { stdio: ['ignore', w, 'inherit'] });
  const closed = new Promise(res => child.on('close', res));   // now: it may close before we read the end
  closeSync(w);
  const reader = new io.FdReader(r, undefined, false, fresh);
  const views: Buffer[] = [];
  for (let b = await reader.some(); b.length; b = await reader.some()) views.push(b);
  if (!fresh) closeSync(r);   // a fresh reader of a pipe reads it on the event loop and closes it at its end
  await closed;
  const h = createHash('sha256');
  for (const v of views) h.update(v);
  return { sum: h.digest('hex'), views, buffers: new Set(views.map(v => v.buffer)).size };
}

t.test('fresh: every view kept is intact at the end; small reads share buffers', async (t) => {
  const { sum, views, buffers } = await readAll(true);
  t.equal(sum, expected(), 'the kept views are the stream, byte for byte');
  t.ok(views.length > 20, `many reads (${views.length})`);
  // 9.2 MiB: a 1 MiB buffer per ~1 MiB read at most, not one per 4 KiB read
  t.ok(buffers <= 14, `${buffers} buffers for ${views.length} reads`);
});

t.test('not fresh: the buffer is reused, so kept views are overwritten (what fresh is for)', async (t) => {
  const { sum, buffers } = await readAll(false);
  t.not(sum, expected());
  t.equal(buffers, 1);
});

t.test('fresh over a file: the same bytes, views intact', async (t) => {
  const f = join(tmp(t, 'zbt-io-'), 'data'), data = Buffer.alloc(3 << 20);
  for (let i = 0; i < data.length; i += 4096) data.fill(i % 251, i, i + 4096);
  writeFileSync(f, data);
  const fd = openSync(f, 'r'), r = new io.FdReader(fd, undefined, false, true), views: Buffer[] = [];
  for (let b = await r.some(); b.length; b = await r.some()) views.push(b);
  closeSync(fd);
  t.ok(Buffer.concat(views).equals(data));
});

t.test('a zb stream whose header comes a few bytes at a time through a pipe: meta and payload whole', async (t) => {
  const payload = Buffer.alloc(2 << 20);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 255;
  const d = tmp(t, 'zbt-io-'), f = join(d, 's.zb');
  writeFileSync(f, zbWrap(payload, { snapshot: 'tiny-writes' }, 300_000));
  const [[r, w]] = proc.pipes(1);
  // the first 200 bytes 3 at a time, with pauses, then the rest
  const child = spawn('python3', ['-c', `import sys, time
b = open(sys.argv[1], 'rb').read(); o = sys.stdout.buffer
for i in range(0, 200, 3):
    o.write(b[i:i + 3]); o.flush(); time.sleep(0.001)
o.write(b[((200 + 2) // 3) * 3:]); o.flush()`, f], { stdio: ['ignore', w, 'inherit'] });
  const closed = new Promise(res => child.on('close', res));
  closeSync(w);
  const rd = await zb.ZbReader.open(r, { fresh: true });
  t.equal(rd.meta.snapshot, 'tiny-writes');
  const parts: Buffer[] = [];
  for await (const p of rd.payload()) parts.push(p);
  await closed;
  t.ok(Buffer.concat(parts).equals(payload), 'the payload, through views kept to the end');
});

