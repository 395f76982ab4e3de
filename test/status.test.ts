// status: the monitoring check. One line on stdout (OK or CRITICAL), exit 0 or 1: the
// newest snapshot the copy holds, its age against --max-age, and whether it restores.
import t from 'tap';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ok, sh, pool, fill, tmp } from './lib/util.js';

const oneLine = (t: any, s: string) => t.equal(s.split('\n').length, 2, `one line: ${s.trim()}`);

t.test('directory: nothing yet, then OK, then too old, then a broken chain', async (t) => {
  const p = pool(t), d = tmp(t), ds = `${p.name}/data`, z = `zfsbackup --dataset ${ds}`, m = `directory --dest ${d} --prefix P`;
  await ok(`zfs create ${ds}`);
  fill(`${p.mnt}/data/a.bin`, 200_000); await ok(`zfs snapshot ${ds}@s1`);
  const none = await sh(`${z} ${m} status`);
  t.equal(none.code, 1);
  t.match(none.out, new RegExp(`^CRITICAL - ${ds}: no backup of '${ds}' in '${d}/P/map.json'`)); oneLine(t, none.out);
  fill(`${p.mnt}/data/b.bin`, 200_000); await ok(`zfs snapshot ${ds}@s2`);
  await ok(`${z} ${m}`);
  const good = await sh(`${z} --max-age 1h ${m} status`);
  t.equal(good.code, 0);
  t.match(good.out, new RegExp(`^OK - ${ds}: newest ${ds}@s2 in ${d}/P, \\d+s old: restorable\\n$`));
  t.equal(good.stderr, '');
  await new Promise(r => setTimeout(r, 2100));
  const old = await sh(`${z} --max-age 1 ${m} status`);
  t.equal(old.code, 1);
  t.match(old.out, new RegExp(`^CRITICAL - ${ds}: newest ${ds}@s2 in ${d}/P, \\d+s old: it is older than the maximum age \\(--max-age 1\\)\\n$`));
  const chunk = readdirSync(join(d, 'P/chunks')).find(f => f.includes('@s1.'))!;
  rmSync(join(d, 'P/chunks', chunk));
  const broken = await sh(`${z} ${m} status`);
  t.equal(broken.code, 1);
  t.match(broken.out, new RegExp(`^CRITICAL - ${ds}: newest ${ds}@s2 in .*: chunk '${chunk.replace(/[.@]/g, '\\$&')}' of ${ds}@s1 is missing\\n$`));
  const bad = await sh(`${z} --max-age soon ${m} status`);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--max-age takes a duration such as 3600, 30m, 12h, 2d, 1w; not 'soon'/);
});

t.test('zfs: a target that is not there, then OK', async (t) => {
  const p = pool(t), ds = `${p.name}/data`, z = `zfsbackup --dataset ${ds} zfs --dest ${p.name}/copy`;
  await ok(`zfs create ${ds} && zfs snapshot ${ds}@a`);
  const none = await sh(`${z} status`);
  t.equal(none.code, 1);
  t.match(none.out, new RegExp(`^CRITICAL - ${ds}: target '${p.name}/copy/data' does not exist`)); oneLine(t, none.out);
  await ok(z);
  const good = await sh(`${z} --operation status`);
  t.equal(good.code, 0);
  t.match(good.out, new RegExp(`^OK - ${ds}: newest ${p.name}/copy/data@a in ${p.name}/copy/data, \\d+s old: restorable\\n$`));
});
