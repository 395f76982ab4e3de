// The wrapper's pipeline: filters in order, --verbose compression figures, and the
// stage that failed first named (not its neighbours' broken pipe or cut stream).
import t from 'tap';
import { writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { sh, ok, pool, fill, tmp, treeSums } from './lib/util.js';

async function source(t: any) {
  const p = pool(t), d = tmp(t);
  await ok(`zfs create ${p.name}/data`);
  fill(`${p.mnt}/data/text.txt`, 2 << 20, true);
  await ok(`zfs snapshot ${p.name}/data@a`);
  await ok(`mkdir ${d}/store`);
  writeFileSync(join(d, 'pass'), 'correct horse\n', { mode: 0o600 });
  writeFileSync(join(d, 'wrong'), 'battery staple\n', { mode: 0o600 });
  return { p, d };
}

t.test('-C -v prints "Compressed X to Y bytes (Z%)" from zb-count before and after zb-compress', async (t) => {
  const { p, d } = await source(t);
  const r = await ok(`zfsbackup -v -C --dataset ${p.name}/data directory --dest ${d}/store`);
  const m = /Compressed (\d+) to (\d+) bytes \((\d+\.\d)%\)/.exec(r.stderr);
  t.ok(m, r.stderr);
  const [x, y] = [Number(m![1]), Number(m![2])];
  t.ok(x > 2 << 20, 'X is the zfs stream size');
  t.ok(y < x / 10, 'compressible text shrinks');
  t.equal(m![3], ((100 * y) / x).toFixed(1));
  const l = await ok(`zb-list --dir ${d}/store -H`);
  t.match(l.out, /gzip/);
});

t.test('-C --pigz -E: filters applied in order (compress, then encrypt) and restored', async (t) => {
  const { p, d } = await source(t);
  await ok(`zfsbackup --pigz -C -E --password-file ${d}/pass --dataset ${p.name}/data directory --dest ${d}/store`);
  const j = JSON.parse((await ok(`zb-list --dir ${d}/store --json`)).out);
  t.equal(j[0].filters, 'pigz,age', 'compressed, then encrypted');
  await ok(`zfsbackup -E --password-file ${d}/pass --dataset ${p.name}/data directory --dest ${d}/store restore --to ${p.name}/back`);
  t.same(treeSums(`${p.mnt}/back`), treeSums(`${p.mnt}/data`));
});

t.test('wrong passphrase on restore: zb-encrypt is named, nothing is received', async (t) => {
  const { p, d } = await source(t);
  await ok(`zfsbackup -E --password-file ${d}/pass --dataset ${p.name}/data directory --dest ${d}/store`);
  const r = await sh(`zfsbackup -E --password-file ${d}/wrong --dataset ${p.name}/data directory --dest ${d}/store restore --to ${p.name}/back`);
  t.equal(r.code, 1);
  t.match(r.stderr, /zb-encrypt \(stage 2 of 3\) failed: .*(passphrase|password)/i);
  t.equal((await sh(`zfs list ${p.name}/back@a`)).code, 1, 'no snapshot received');
});

t.test('zfs receive fails: zb-recv is blamed, not zb-send\'s broken pipe', async (t) => {
  const { p, d } = await source(t);
  const fake = join(d, 'zfs');
  // the real zfs, except that receive reads a little and fails, as a full pool would
  writeFileSync(fake, `#!/bin/sh\nif [ "$1" = receive ]; then head -c 1000 >/dev/null; echo "cannot receive new filesystem stream: out of space" >&2; exit 1; fi\nexec /usr/sbin/zfs "$@"\n`);
  chmodSync(fake, 0o755);
  const r = await sh(`zfsbackup --dataset ${p.name}/data zfs --dest ${p.name}/copy`, { env: { ZB_ZFS: fake } });
  t.equal(r.code, 1);
  t.match(r.stderr, /^zfsbackup: zb-recv \(stage 2 of 2\) failed: target pool is out of space/m);
  t.notMatch(r.stderr, /zb-send \(stage/);
});

t.test('--limit-rate holds a directory backup to the rate; the copy restores identical', async (t) => {
  const p = pool(t), d = tmp(t), ds = `${p.name}/data`;
  await ok(`zfs create ${ds}`);
  fill(`${p.mnt}/data/f.bin`, 3 << 20);
  await ok(`zfs snapshot ${ds}@a`);
  const t0 = Date.now();
  await ok(`zfsbackup --limit-rate 1M --dataset ${ds} directory --dest ${d} --prefix P`);
  const s = (Date.now() - t0) / 1000;
  t.ok(s >= 2.8, `3 MiB at 1 MiB/s took ${s.toFixed(1)} s`);
  await ok(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P restore --to ${p.name}/back`);
  t.same(treeSums(`${p.mnt}/back`), treeSums(`${p.mnt}/data`));
  const bad = await sh(`zfsbackup --limit-rate lots --dataset ${ds} directory --dest ${d}`);
  t.equal(bad.code, 2);
});
