// Packaging: `npm pack` gives a package whose bin links and man pages work after
// `npm install -g` of the tarball (into a temp prefix, offline), and whose binaries run a
// backup and a restore with nothing else on PATH; `make install` and `make uninstall` into
// a DESTDIR leave nothing behind.
import t from 'tap';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ok, pool, fill, tmp, treeSums, ROOT } from './lib/util.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const BINS = /^BINS = (.*)$/m.exec(readFileSync(join(ROOT, 'Makefile'), 'utf8'))![1].trim().split(/\s+/);

t.test('package.json lists every binary and every man page', async (t) => {
  t.same(Object.keys(pkg.bin).sort(), [...BINS].sort());
  t.same(pkg.man, readdirSync(join(ROOT, 'man')).filter(f => /\.\d$/.test(f)).sort().map(f => `man/${f}`));
});

t.test('a command loads a vendored bundle (the AWS SDK, ssh2) only when it uses it', async (t) => {
  // a copy of dist whose vendored bundles throw when loaded: every start that loads one
  // needlessly (~0.1 s of CPU for the AWS SDK) fails
  const d = tmp(t);
  cpSync(join(ROOT, 'dist/zb.cjs'), join(d, 'zb.cjs'));
  cpSync(join(ROOT, 'dist/vendor'), join(d, 'vendor'), { recursive: true });
  for (const f of readdirSync(join(d, 'vendor')).filter(f => f.endsWith('.cjs')))
    writeFileSync(join(d, 'vendor', f), `throw new Error('loaded ${f}');\n`);
  mkdirSync(join(d, 'bin'));
  for (const b of BINS) symlinkSync('../zb.cjs', join(d, 'bin', b));
  for (const b of BINS.filter(b => b !== 'zb-chunk-s3'))
    t.match((await ok(`${d}/bin/${b} --version`)).out, new RegExp(`^${b} `), `${b} starts without them`);
  const r = await ok(`${d}/bin/zb-list --s3 --bucket b --server http://127.0.0.1:1 x 2>&1 || true`);
  t.match(r.out, /loaded aws-sdk-client-s3\.cjs/, 'zb-list --s3 loads the AWS SDK (so the check above has teeth)');
  const w = await ok(`${d}/bin/zfsbackup --dataset x/y s3 --bucket b 2>&1 || true`);
  t.match(w.out, /loaded aws-sdk-client-s3\.cjs/, 'and so does the s3 method');
  const s = await ok(`${d}/bin/zb-list --host 127.0.0.1 --port 1 x/y 2>&1 || true`);
  t.match(s.out, /loaded ssh2\.cjs/, 'zb-list --host loads ssh2');
});

t.test('npm pack, npm install -g of the tarball: bins, man pages, a backup and a restore', async (t) => {
  const d = tmp(t), prefix = join(d, 'prefix');
  const packed = await ok(`cd ${ROOT} && npm pack --silent --pack-destination ${d}`);
  const tgz = join(d, packed.out.trim().split('\n').pop()!);
  t.ok(existsSync(tgz), `packed ${tgz}`);
  await ok(`npm install -g --offline --no-audit --no-fund --prefix ${prefix} ${tgz}`);
  for (const b of BINS) t.ok(existsSync(join(prefix, 'bin', b)), `bin/${b}`);
  for (const m of pkg.man as string[]) {
    const f = m.split('/').pop()!;
    t.ok(existsSync(join(prefix, 'share/man', `man${f.split('.').pop()}`, f)), `share/man/…/${f}`);
  }
  const env = { PATH: `${join(prefix, 'bin')}:/usr/sbin:/sbin:/usr/bin:/bin` };
  t.match((await ok('zb-send --version', { env })).out, new RegExp(`^zb-send ${pkg.version.replace(/\./g, '\\.')}\n$`));
  t.match((await ok('zb-chunk-s3 --version && zb-recv-ssh --version', { env })).out, /^zb-chunk-s3 .*\nzb-recv-ssh /, 'the vendored bundles are in the package');
  t.match((await ok('command -v zfsbackup', { env })).out, new RegExp(`^${prefix}/bin/zfsbackup`), 'the installed one, not dist/bin');
  const p = pool(t), store = tmp(t);
  await ok(`zfs create ${p.name}/data`);
  fill(`${p.mnt}/data/f.bin`, 300_000);
  await ok(`zfs snapshot ${p.name}/data@a`);
  await ok(`zfsbackup -C --dataset ${p.name}/data directory --dest ${store} --prefix P`, { env });
  await ok(`zfsbackup --dataset ${p.name}/data directory --dest ${store} --prefix P restore --to ${p.name}/back`, { env });
  t.same(treeSums(`${p.mnt}/back`), treeSums(`${p.mnt}/data`), 'restored through the installed binaries');
});

t.test('make install, then make uninstall, into a DESTDIR: nothing left', async (t) => {
  const d = tmp(t);
  await ok(`cd ${ROOT} && make -s install-files ZB=dist/zb.cjs BESIDE=dist/vendor DESTDIR=${d} PREFIX=/usr/local`);
  t.ok(existsSync(join(d, 'usr/local/bin/zfsbackup')) && existsSync(join(d, 'usr/local/share/man/man8/zfsbackup.8')), 'installed');
  for (const b of ['zb-chunk-s3', 'zb-recv-ssh'])   // each loads its vendored bundle (AWS SDK, ssh2) from beside the program
    t.match((await ok(`${d}/usr/local/bin/${b} --version`, { env: { PATH: '/usr/bin:/bin' } })).out, new RegExp(`^${b} `), `${b} runs from the DESTDIR`);
  await ok(`cd ${ROOT} && make -s uninstall DESTDIR=${d} PREFIX=/usr/local`);
  const left = (await ok(`find ${d}/usr -type f -o -type l`)).out.trim();
  t.equal(left, '', 'no file or link left');
});
