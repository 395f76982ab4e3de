// The typed API as a TypeScript user holds it: only names exported by the package entry,
// typed options in, typed results out (no command lines), on a real zfs-fuse pool.
// The file is also compiled by tsc against the package's declarations (the last test).
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ZFSBackup, ZFSBackupDirectory, filterStages, type RestoreReport, type Step, type VerifyReport } from '../dist/lib/index.js';
import { ok, pool, fill, tmp, treeSums, ENV, ROOT } from './lib/util.js';

process.env.PATH = ENV.PATH;   // zfs in /usr/sbin

t.test('backup to a directory, list, verify, restore: typed values in and out', async (t) => {
  const p = pool(t), d = tmp(t), ds = `${p.name}/data`;
  await ok(`zfs create ${ds}`);
  fill(`${p.mnt}/data/one.bin`, 300_000); await ok(`zfs snapshot ${ds}@a`);
  fill(`${p.mnt}/data/two.bin`, 200_000, true); await ok(`zfs snapshot ${ds}@b`);
  const said: string[] = [];
  const b = new ZFSBackupDirectory(ds, d, { compress: { alg: 'zstd' }, log: (l) => said.push(l) }, { prefix: 'P', chunkSize: 256 << 10 });
  const steps: Step[] = await b.backup();
  t.same(steps.map(s => [s.snapshot.snap, s.base?.snap ?? null]), [['a', null], ['b', 'a']], 'a full and an incremental');
  t.same((await b.backup()).length, 0, 'then up to date');
  t.same((await b.list()).map(s => [s.snap, s.guid]), steps.map(s => [s.snapshot.snap, s.snapshot.guid]), 'list: what was stored, by guid');
  const v: VerifyReport = await b.verify();
  t.same(v.problems, []);
  t.equal(v.snapshots, 2);
  t.ok(v.chunks >= 2 && v.bytes > 0, 'chunks and bytes counted');
  const r: RestoreReport = await b.restore({ to: `${p.name}/back` });
  t.same(r, { target: `${p.name}/back`, restored: ['a', 'b'], snapshot: 'b' });
  t.same(treeSums(`${p.mnt}/back`), treeSums(`${p.mnt}/data`), 'files identical');
  t.same(await b.restore({ to: `${p.name}/back` }), { target: `${p.name}/back`, restored: [], snapshot: 'b' }, 'a second restore has nothing to do');
  t.same(said, [], 'nothing said on success');
  await t.rejects(b.restore({ to: `${p.name}/back2`, snapshot: 'nope' }), { message: /no snapshot '.*@nope'/ }, 'a failure is a rejected promise with the one line');
});

t.test('a passphrase given to the API reaches the stages in their environment, never in argv', async (t) => {
  const secret = 'k3y-' + 'x'.repeat(20);
  const stages = filterStages({ compress: { alg: 'gzip' }, encrypt: { passphrase: secret } });
  t.same(stages.map(s => s.name), ['zb-compress', 'zb-encrypt']);
  t.notOk(stages.some(s => s.argv.some(a => a.includes(secret))), 'not in any argv');
  t.equal(stages[1].env?.ZB_PASSWORD, secret, 'in the encrypting stage\'s environment');
  t.equal(stages[0].env, undefined, 'and no other stage\'s');
  const p = pool(t), d = tmp(t), ds = `${p.name}/data`;
  await ok(`zfs create ${ds}`);
  fill(`${p.mnt}/data/one.bin`, 200_000); await ok(`zfs snapshot ${ds}@a`);
  const b = new ZFSBackupDirectory(ds, d, { encrypt: { passphrase: secret } }, { prefix: 'P' });
  await b.backup();
  await t.rejects(b.restore({ to: `${p.name}/nokey` }), { message: /is encrypted \(age\): give --password-file/ });
  await t.rejects(b.restore({ to: `${p.name}/wrong`, passphrase: 'wrong' }), { message: /restore of .*@a/ }, 'a wrong passphrase fails');
  t.same((await b.restore({ to: `${p.name}/back`, passphrase: secret })).restored, ['a']);
  t.same(treeSums(`${p.mnt}/back`), treeSums(`${p.mnt}/data`), 'files identical');
});

t.test("the seed's pool-to-pool class, constructed as in the seed", async (t) => {
  const p = pool(t), ds = `${p.name}/data`;
  await ok(`zfs create ${ds} && zfs snapshot ${ds}@a`);
  const z = new ZFSBackup(ds, `${p.name}/copy`, { recursive: false });
  t.same((await z.backup()).map(s => s.snapshot.snap), ['a']);
  t.same((await z.list()).map(s => s.name), [`${p.name}/copy/data@a`]);
});

t.test('this file type-checks against the package declarations (dist/lib/index.d.ts)', async (t) => {
  const tsc = join(ROOT, 'node_modules/.bin/tsc');
  const out = (() => {
    try {
      execFileSync(tsc, ['--noEmit', '--strict', '--skipLibCheck', '--module', 'NodeNext', '--moduleResolution', 'NodeNext',
        '--target', 'ES2022', join(ROOT, 'test/api.test.ts')], { encoding: 'utf8', stdio: 'pipe' });
      return '';
    } catch (e: any) { return `${e.stdout}${e.stderr}`; }
  })();
  t.equal(out, '', 'tsc: no errors');
});
