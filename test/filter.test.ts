// Command filters (the seed's ZFSBackupFilterCommand): zb-filter runs any command over the
// payload and records it by name only; -d undoes it with the restoring command given again.
// And the filter objects of the API in an ordered chain, as a TypeScript user writes it.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ZFSBackupDirectory, ZFSBackupFilterCommand, ZFSBackupFilterCompressed, ZFSBackupFilterCounter } from '../dist/lib/index.js';
import { ok, sh, pool, fill, tmp, treeSums, ENV } from './lib/util.js';

process.env.PATH = ENV.PATH;

async function source(t: any) {
  const p = pool(t), ds = `${p.name}/data`;
  await ok(`zfs create ${ds}`);
  fill(`${p.mnt}/data/a.bin`, 1_000_000, true); await ok(`zfs snapshot ${ds}@a`);
  const atA = treeSums(`${p.mnt}/data`);
  fill(`${p.mnt}/data/b.bin`, 300_000); await ok(`zfs snapshot ${ds}@b`);
  return { p, ds, atA };
}

t.test('zb-filter: gzip as a command, recorded by name only; restored with gunzip given again', async (t) => {
  const { p, ds, atA } = await source(t), d = tmp(t);
  await ok(`zb-send ${ds}@a | zb-filter --name squash -- gzip -c | zb-chunk-dir --dest ${d} --prefix P`);
  const map = readFileSync(join(d, 'P/map.json'), 'utf8');
  t.same(JSON.parse(map)[ds].snapshots[0].filters, [{ kind: 'command', alg: 'squash' }]);
  t.notMatch(map, /gzip/, 'no command line in the map');
  t.match((await ok(`zb-list --dir ${d} --prefix P -H`)).out, /\tcommand\(squash\)\t/);
  await ok(`zb-chunk-dir -d --dest ${d} --prefix P ${ds} | zb-filter -d --name squash -- gunzip -c | zb-recv ${p.name}/back`);
  t.same(treeSums(`${p.mnt}/back`), atA, 'received: the files of @a');
  const wrong = await sh(`zb-chunk-dir -d --dest ${d} --prefix P ${ds} | zb-filter -d --name other -- gunzip -c | wc -c`);
  t.equal(wrong.code, 1);
  t.match(wrong.stderr, /^zb-filter: the stream's last filter is command \(squash\), not the command filter 'other'\n$/);
  const undone = await sh(`zb-chunk-dir -d --dest ${d} --prefix P ${ds} | zb-recv ${p.name}/raw`);
  t.equal(undone.code, 1);
  t.match(undone.stderr, /filtered by a command \(squash\): put 'zb-filter -d --name squash -- COMMAND' before zb-recv/);
  // the command fails mid-stream: the stream is cut, the store commits nothing
  const before = readFileSync(join(d, 'P/map.json'));
  const bad = await sh(`zb-send -i ${ds}@a ${ds}@b | zb-filter --name boom -- sh -c 'head -c 1000; exit 3' | zb-chunk-dir --dest ${d} --prefix P`);
  t.not(bad.code, 0);
  t.match(bad.stderr, /zb-filter: .*(exit|status) .*3/);
  t.same(readFileSync(join(d, 'P/map.json')), before, 'map unchanged');
  for (const [args, msg] of [['--name x', /missing -- COMMAND/], ['--name "a b" -- cat', /invalid filter name 'a b'/], ['-- cat', /missing --name NAME/]] as const) {
    const u = await sh(`zb-filter ${args} < /dev/null`);
    t.equal(u.code, 2); t.match(u.stderr, msg);
  }
});

t.test('the API: compress, a /bin/cat command filter and a counter in order; backup, list, verify, restore', async (t) => {
  const { p, ds } = await source(t), d = tmp(t);
  const cat = new ZFSBackupFilterCommand({ name: 'cat', backupCommand: ['/bin/cat'], restoreCommand: ['/bin/cat'] });
  const b = new ZFSBackupDirectory(ds, d, { filters: [new ZFSBackupFilterCompressed({ alg: 'zstd' }), cat, new ZFSBackupFilterCounter()] }, { prefix: 'P' });
  t.same((await b.backup()).map(s => s.snapshot.snap), ['a', 'b']);
  t.same((await b.list()).map(s => s.snap), ['a', 'b']);
  t.same((await b.verify()).problems, []);
  const e = JSON.parse(readFileSync(join(d, 'P/map.json'), 'utf8'))[ds].snapshots[1];
  t.same(e.filters.map((f: any) => `${f.kind}:${f.alg}`), ['compress:zstd', 'command:cat'], 'in order; the counter changes nothing');
  t.notMatch(readFileSync(join(d, 'P/map.json'), 'utf8'), /bin\/cat/, 'the argv is not in the map');
  await t.rejects(b.restore({ to: `${p.name}/nocmd` }), { message: /went through the command filter 'cat': give it again, with its restoreCommand/ });
  t.equal((await sh(`zfs list ${p.name}/nocmd`)).code, 1, 'nothing received');
  const r = await b.restore({ to: `${p.name}/back`, filters: [cat] });
  t.same(r.restored, ['a', 'b']);
  t.same(treeSums(`${p.mnt}/back`), treeSums(`${p.mnt}/data`), 'identical');
  t.throws(() => new ZFSBackupFilterCommand({ name: 'no spaces', backupCommand: ['cat'] }), /invalid filter name/);
});
