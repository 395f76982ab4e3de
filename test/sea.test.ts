// The shipped forms of the binaries: the one-file bundle dist/zb.cjs (what dist/bin/NAME
// links run) and the single executable dist/sea/zb (`make sea`), each running as the
// command its link is named after or as `zb COMMAND`, and starting its pipeline stages as
// itself: the executable's backup and restore run with no zb binary on PATH.
import t from 'tap';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sh, ok, pool, fill, tmp, treeSums, ROOT } from './lib/util.js';

const SEA = join(ROOT, 'dist', 'sea');
const BUNDLE = join(ROOT, 'dist', 'zb.cjs');

t.test('the bundle runs as its link name or as `zb COMMAND`, and refuses anything else', async (t) => {
  t.match((await ok(`zb-count --version`)).out, /^zb-count \d+\.\d+\.\d+\n$/);
  t.match((await ok(`node ${BUNDLE} zb-list --version`)).out, /^zb-list \d+\.\d+\.\d+\n$/);
  const r = await sh(`node ${BUNDLE} zb-nothing`);
  t.equal(r.code, 2, 'an unknown command is a usage error');
  t.match(r.stderr, /^Usage: zb COMMAND .*\n.*\n  zb-send .*zfsbackup\n$/);
  const h = await ok(`node ${BUNDLE} --help`);
  t.match(h.out, /^Usage: zb COMMAND/, '--help: the same on stdout, exit 0');
  t.match((await ok(`node ${BUNDLE} --version`)).out, /^zb \d+\.\d+\.\d+\n$/);
  const e = await sh(`node ${BUNDLE} zb-send -q`);
  t.match(e.stderr, /^zb-send: unrecognized option '-q'\n/, 'errors carry the command name');
});

t.test('single executable: zfsbackup -C -E directory backup and restore with no zb binary on PATH', async (t) => {
  t.ok(existsSync(join(SEA, 'zb')), 'make sea built dist/sea/zb (make test builds it)');
  const p = pool(t), d = tmp(t), pw = join(d, 'pw');
  writeFileSync(pw, 'correct horse\n', { mode: 0o600 });
  await ok(`zfs create ${p.name}/data`);
  fill(`${p.mnt}/data/a.bin`, 1 << 20);
  fill(`${p.mnt}/data/t/b.txt`, 300_000, true);
  await ok(`zfs snapshot ${p.name}/data@s1`);
  fill(`${p.mnt}/data/c.bin`, 200_000);
  await ok(`zfs snapshot ${p.name}/data@s2`);
  const sums = treeSums(`${p.mnt}/data`);
  // PATH without dist/bin: every stage must be the executable itself
  const env = { PATH: `/usr/sbin:/sbin:/usr/bin:/bin` };
  const zb = join(SEA, 'zfsbackup');
  await ok(`${zb} -C --compress zstd -E --password-file ${pw} --dataset ${p.name}/data directory --dest ${d}`, { env });
  const l = await ok(`${zb} --dataset ${p.name}/data directory --dest ${d} list`, { env });
  t.match(l.out, /@s1 .*\n.*@s2 /s, 'list shows both snapshots');
  await ok(`${zb} --password-file ${pw} --dataset ${p.name}/data directory --dest ${d} restore --to ${p.name}/back`, { env });
  t.same(treeSums(`${p.mnt}/back`), sums, 'restored files identical');
  const r = await ok(`${join(SEA, 'zb-send')} ${p.name}/data | ${join(SEA, 'zb')} zb-count -q | ${join(SEA, 'zb-recv')} ${p.name}/plain`, { env });
  t.equal(r.code, 0);
  t.same(treeSums(`${p.mnt}/plain`), sums, 'zb-send | zb count | zb-recv through the executable');
});
