// FdReader (lib/os/io.ts) over a real pipe: a fresh reader's views stay valid while later
// reads go on (zb-recv-ssh queues them on the ssh channel without copying), small reads
// share a buffer instead of pinning one each; a reader that is not fresh reuses its buffer.
import t from 'tap';
import { spawn } from 'node:child_process';
import { closeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { ROOT } from './lib/util.js';

const io = await import(join(ROOT, 'dist/lib/os/io.js'));
const proc = await import(join(ROOT, 'dist/lib/os/proc.js'));

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
  closeSync(w);
  const reader = new io.FdReader(r, undefined, false, fresh);
  const views: Buffer[] = [];
  for (let b = await reader.some(); b.length; b = await reader.some()) views.push(b);
  closeSync(r);
  await new Promise(res => child.on('close', res));
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
