// The counter method (the seed's ZFSBackupCount): a full send through the chosen filters,
// counted and stored nowhere. Its number is what `zb-send … | wc -c` says.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ZFSBackupCount } from '../dist/lib/index.js';
import { ok, sh, pool, fill, tmp, ENV } from './lib/util.js';

process.env.PATH = ENV.PATH;

t.test('counter equals zb-send | filters | wc -c: plain, -C, -C --compress zstd, -E, -C -E', async (t) => {
  const p = pool(t), d = tmp(t), ds = `${p.name}/data`, pw = join(d, 'pw');
  writeFileSync(pw, 'k3y\n', { mode: 0o600 });
  await ok(`zfs create ${ds}`);
  fill(`${p.mnt}/data/a.bin`, 1_500_000, true);
  await ok(`zfs snapshot ${ds}@s1`);
  const cases: [string, string][] = [
    ['', ''],
    ['-C', '| zb-compress --gzip'],
    ['-C --compress zstd', '| zb-compress --zstd'],
    [`-E --password-file ${pw}`, `| zb-encrypt --password-file ${pw}`],
    [`-C -E --password-file ${pw}`, `| zb-compress --gzip | zb-encrypt --password-file ${pw}`],
  ];
  for (const [flags, filters] of cases) {
    const c = await ok(`zfsbackup ${flags} --dataset ${ds} counter`);
    const want = (await ok(`zb-send ${ds}@s1 ${filters} | wc -c`)).out.trim();
    t.equal(c.out, `${want} ${ds}@s1\n`, `counter ${flags || '(plain)'}: ${want} bytes`);
    t.equal(c.stderr, '', 'nothing on stderr');
  }
  t.equal((await ok(`zfs list -H -o name -r ${p.name}`)).out.trim().split('\n').length, 2, 'nothing was created');
});

t.test('count (the alias), a chosen snapshot, the API, and failures', async (t) => {
  const p = pool(t), ds = `${p.name}/data`;
  await ok(`zfs create ${ds}`);
  fill(`${p.mnt}/data/a.bin`, 300_000);
  await ok(`zfs snapshot ${ds}@s1`);
  fill(`${p.mnt}/data/b.bin`, 700_000);
  await ok(`zfs snapshot ${ds}@s2`);
  const s1 = (await ok(`zb-send ${ds}@s1 | wc -c`)).out.trim(), s2 = (await ok(`zb-send ${ds}@s2 | wc -c`)).out.trim();
  t.not(s1, s2);
  t.equal((await ok(`zfsbackup --dataset ${ds} count`)).out, `${s2} ${ds}@s2\n`, 'the latest by default');
  t.equal((await ok(`zfsbackup --snapshot ${ds}@s1 counter`)).out, `${s1} ${ds}@s1\n`, 'a full send of the named one');
  t.same(await new ZFSBackupCount(ds).count('s1'), { snapshot: `${ds}@s1`, bytes: Number(s1) }, 'the API: a typed report');
  const gone = await sh(`zfsbackup --dataset ${p.name}/nope counter`);
  t.equal(gone.code, 1);
  t.match(gone.stderr, /^zfsbackup: .*nope.*\n$/, 'a missing dataset: one line');
  const bad = await sh(`zfsbackup --dataset ${ds} -E --recipient notakey counter`);
  t.not(bad.code, 0);
  t.equal(bad.stderr.trim().split('\n').length, 1, `a failing filter: one line (${bad.stderr.trim()})`);
  t.equal(bad.out, '', 'and no count');
  const list = await sh(`zfsbackup --dataset ${ds} counter list`);
  t.equal(list.code, 2, 'the counter has only the backup operation');
  // a dataset named like a method is the dataset, not the method
  const named = await sh(`zfsbackup --dataset count zfs --dest ${p.name}/copy list`);
  t.match(named.stderr, /target '.*copy' does not exist/, `--dataset count: the zfs method runs (${named.stderr.trim()})`);
});
