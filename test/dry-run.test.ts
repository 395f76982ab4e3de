// --dry-run (-n): the snapshots that would be sent and each one's pipeline, as commands a
// user can paste; nothing runs and nothing changes. The printed pipeline, pasted into a
// shell, does the backup.
import t from 'tap';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ok, sh, pool, fill, tmp } from './lib/util.js';

t.test('directory: full then incrementals, printed; nothing stored; pasted, they store it', async (t) => {
  const p = pool(t), d = tmp(t), ds = `${p.name}/data`, pw = join(d, 'pw');
  writeFileSync(pw, 'k3y\n', { mode: 0o600 });
  await ok(`zfs create ${ds}`);
  for (const s of ['a', 'b', 'c']) { fill(`${p.mnt}/data/${s}.bin`, 100_000); await ok(`zfs snapshot ${ds}@${s}`); }
  const r = await ok(`zfsbackup -n -C -E --password-file ${pw} --dataset ${ds} directory --dest ${d} --prefix P`);
  const sink = `zb-chunk-dir --dest ${d} --prefix P`;
  t.equal(r.out, [
    `# ${ds}@a: full`, `zb-send ${ds}@a | zb-compress --gzip | zb-encrypt --password-file ${pw} | ${sink}`,
    `# ${ds}@b: incremental from ${ds}@a`, `zb-send -i ${ds}@a ${ds}@b | zb-compress --gzip | zb-encrypt --password-file ${pw} | ${sink}`,
    `# ${ds}@c: incremental from ${ds}@b`, `zb-send -i ${ds}@b ${ds}@c | zb-compress --gzip | zb-encrypt --password-file ${pw} | ${sink}`,
  ].join('\n') + '\n');
  t.equal(r.stderr, '');
  t.notOk(existsSync(join(d, 'P')), 'nothing written');
  // the printed commands are the backup
  await ok(r.out.split('\n').filter(l => l && !l.startsWith('#')).join(' && '));
  t.same((await ok(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P list`)).out.trim().split('\n').slice(1).map(l => l.split(/\s+/)[0]),
    ['a', 'b', 'c'].map(s => `${ds}@${s}`), 'what they stored lists as a backup');
  t.equal((await ok(`zfsbackup -n --dataset ${ds} directory --dest ${d} --prefix P`)).out, `# ${ds}: up to date in ${d}; nothing would be sent\n`);
});

t.test('zfs: the receive is not checked (no check clones), the target untouched; --no-iterate-incrementals and counter', async (t) => {
  const p = pool(t), ds = `${p.name}/data`;
  await ok(`zfs create ${ds} && zfs snapshot ${ds}@a`);
  await ok(`zfsbackup --dataset ${ds} zfs --dest ${p.name}/copy`);
  await ok(`zfs snapshot ${ds}@b && zfs snapshot ${ds}@c`);
  const before = (await ok(`zfs list -H -t all -o name,guid -r ${p.name}`)).out;
  const r = await ok(`zfsbackup --dry-run --no-iterate-incrementals --dataset ${ds} zfs --dest ${p.name}/copy`);
  t.equal(r.out, `# ${ds}@c: incremental from ${ds}@a, with the snapshots between\nzb-send -I ${ds}@a ${ds}@c | zb-recv ${p.name}/copy/data\n`);
  t.equal((await ok(`zfs list -H -t all -o name,guid -r ${p.name}`)).out, before, 'no dataset or snapshot made or changed');
  const c = await ok(`zfsbackup -n -C --dataset ${ds} counter`);
  t.equal(c.out, `# ${ds}@c: full\nzb-send ${ds}@c | zb-compress --gzip | wc -c\n`);
  const bad = await sh(`zfsbackup -n --dataset ${ds} zfs --dest ${p.name}/copy list`);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--dry-run goes with the backup operation, not 'list'/);
});
