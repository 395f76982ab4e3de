// The directory method end to end on zfs-fuse: backup with -C -E, restore (whole chain
// and to an intermediate snapshot), verify, failures named; maps of the original tool.
import t from 'tap';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sh, ok, pool, fill, tmp, treeSums, ROOT } from './lib/util.js';

const FIX = join(ROOT, 'test/fixtures/legacy');
const readMap = (base: string) => JSON.parse(readFileSync(join(base, 'map.json'), 'utf8'));
const snapNames = async (ds: string) => (await ok(`zfs list -H -o name -t snapshot -r ${ds}`)).out.trim().split('\n').filter(Boolean).map(l => l.split('@')[1]);

/** A dataset with files and snapshots s1..sN, each changing something. */
async function source(t: any, n: number, prefix = 's') {
  const p = pool(t);
  await ok(`zfs create ${p.name}/data`);
  fill(`${p.mnt}/data/big.bin`, 2 << 20);
  fill(`${p.mnt}/data/text/a.txt`, 1 << 20, true);
  const sums: Record<string, Record<string, string>> = {};
  for (let i = 1; i <= n; i++) {
    fill(`${p.mnt}/data/s${i}.bin`, 300_000);
    if (i > 1) fill(`${p.mnt}/data/big.bin`, (1 << 20) + i);
    await ok(`zfs snapshot ${p.name}/data@${prefix}${i}`);
    sums[`${prefix}${i}`] = treeSums(`${p.mnt}/data`);
  }
  return { p, ds: `${p.name}/data`, sums };
}

t.test('full + 3 incrementals with -C -E restore identical; restore to an intermediate snapshot works', async (t) => {
  const { p, ds, sums } = await source(t, 4), d = tmp(t), key = join(d, 'key');
  // age with a public key (X25519: fast); the passphrase path is the legacy test's
  const pub = (await ok(`age-keygen -o ${key} 2>&1 | sed -n 's/^Public key: //p'`)).out.trim();
  const enc = `-E --recipient ${pub}`, dec = `--identity ${key}`;
  await ok(`zfsbackup -C ${enc} --dataset ${ds} directory --dest ${d} --prefix P --chunk-size 1M`);
  const list = readMap(join(d, 'P'))[ds].snapshots;
  t.same(list.map((e: any) => e.incremental), [false, true, true, true], 'a full and three incrementals');
  t.same(list.map((e: any) => e.name), ['s1', 's2', 's3', 's4']);
  t.same(list[0].filters.map((f: any) => f.alg), ['gzip', 'age']);
  t.ok(list[0].chunks.length >= 2, 'several 1M chunks for the full');
  t.same(list.slice(1).map((e: any) => e.parent.name), ['s1', 's2', 's3']);
  const l = await ok(`zb-list --dir ${d} --prefix P -H ${ds}`);
  t.match(l.out, new RegExp(`^${ds}\\ts3\\t\\d+\\tincremental\\ts2\\t\\d+\\t\\d+\\tgzip,age\\t\\d+$`, 'm'), 'zb-list --dir without any key');
  await ok(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P restore ${dec} --to ${p.name}/back --snapshot s2`);
  t.same(await snapNames(`${p.name}/back`), ['s1', 's2'], 'to an intermediate snapshot');
  t.same(treeSums(`${p.mnt}/back`), sums.s2, 'files identical to s2');
  await ok(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P restore ${dec} --to ${p.name}/back`);
  t.same(await snapNames(`${p.name}/back`), ['s1', 's2', 's3', 's4'], 'a later restore continues the target up to the newest');
  t.same(treeSums(`${p.mnt}/back`), sums.s4, 'files identical to s4');
  const v = await ok(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P verify`);
  t.match(v.out, /verified 4 snapshot\(s\)/);
  const ls = await ok(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P list`);
  t.same(ls.out.trim().split('\n').slice(1).map(l => l.split(/\s+/)[0]), ['s1', 's2', 's3', 's4'].map(x => `${ds}@${x}`), 'list operation');
  fill(`${p.mnt}/data/s5.bin`, 1000); await ok(`zfs snapshot ${ds}@s5`);
  const b2 = await ok(`zfsbackup -v -C ${enc} --dataset ${ds} directory --dest ${d} --prefix P`);
  t.match(b2.stderr, /s5 \(incremental from s4\)/);
  t.equal((b2.stderr.match(/sending/g) ?? []).length, 1, 'only the new snapshot, base found by guid in the map');
  t.equal(readMap(join(d, 'P'))[ds].snapshots.length, 5);
  const r = await sh(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P restore --to ${p.name}/back`);
  t.equal(r.code, 1);
  t.match(r.stderr, /encrypted \(age\): give --password-file or --identity/, 'no key: refused before anything runs');
  await ok(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P restore ${dec} --to ${p.name}/back`);
  t.same(await snapNames(`${p.name}/back`), ['s1', 's2', 's3', 's4', 's5']);
  t.same(treeSums(`${p.mnt}/back`), treeSums(`${p.mnt}/data`));
});

t.test('one flipped byte: verify and restore name the chunk, nothing is received', async (t) => {
  const { p, ds } = await source(t, 1), d = tmp(t);
  await ok(`zfsbackup -C --dataset ${ds} directory --dest ${d} --prefix P --chunk-size 1M`);
  const e = readMap(join(d, 'P'))[ds].snapshots[0];
  const name = e.chunks[1].name, f = join(d, 'P/chunks', name);
  const buf = readFileSync(f); buf[1234] ^= 0x40; writeFileSync(f, buf);
  const v = await sh(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P verify`);
  t.equal(v.code, 1);
  t.match(v.out, new RegExp(`${ds}@s1: chunk '${name.replace(/[.]/g, '\\.')}' is corrupt`));
  t.match(v.stderr, /^zfsbackup: 1 problem\(s\)/m);
  const r = await sh(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P restore --to ${p.name}/back`);
  t.equal(r.code, 1);
  t.match(r.stderr, new RegExp(`zb-chunk-dir \\(stage 1 of 3\\) failed: .*chunk '${name.replace(/[.]/g, '\\.')}' is corrupt`));
  t.equal((await sh(`zfs list ${p.name}/back`)).code, 1, 'nothing received');
});

t.test('disk full during a backup: exit 1 naming zb-chunk-dir, map unchanged, no chunk left', async (t) => {
  const { ds } = await source(t, 1), d = tmp(t), mnt = join(d, 'small');
  mkdirSync(mnt);
  await ok(`mount -t tmpfs -o size=3M tmpfs ${mnt}`);
  t.teardown(() => sh(`umount ${mnt}`).then(() => undefined));
  const r = await sh(`zfsbackup --dataset ${ds} directory --dest ${mnt} --prefix P`);
  t.equal(r.code, 1);
  t.match(r.stderr, /^zfsbackup: zb-chunk-dir \(stage \d of \d\) failed: no space left on device/m);
  t.notOk(existsSync(join(mnt, 'P/map.json')), 'no map');
  t.same(readdirSync(join(mnt, 'P/chunks')), [], 'no chunk left');
});

t.test('an incremental whose parent is gone: verify lists it and restore refuses before receiving', async (t) => {
  const { p, ds } = await source(t, 2), d = tmp(t);
  await ok(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P`);
  const m = readMap(join(d, 'P'));
  m[ds].snapshots.splice(0, 1);
  writeFileSync(join(d, 'P/map.json'), JSON.stringify(m));
  const v = await sh(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P verify`);
  t.equal(v.code, 1);
  t.match(v.out, /@s2: incremental on 's1' \(guid \d+\), which is not in the map/);
  const r = await sh(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P restore --to ${p.name}/back`);
  t.equal(r.code, 1);
  t.match(r.stderr, /cannot restore '.*@s2': 's2' is an incremental on 's1' \(guid \d+\), which is not in the map/);
  t.equal((await sh(`zfs list ${p.name}/back`)).code, 1);
});

/** Chunks as the original tool made them: zfs send | gzip | openssl enc, cut at fixed sizes. */
async function legacyChunks(ds: string, dir: string, pw: string) {
  mkdirSync(dir, { recursive: true });
  const enc = (md: string) => `gzip | openssl enc -aes-256-cbc -e -salt -md ${md} -pass file:${pw}`;
  await ok(`zfs send ${ds}@daily-1 | ${enc('md5')} > ${dir}/full`);
  await ok(`head -c 500000 ${dir}/full > ${dir}/tmp4k2Zp1 && tail -c +500001 ${dir}/full > ${dir}/tmpQ9xVb7 && rm ${dir}/full`);
  await ok(`zfs send -i daily-1 ${ds}@daily-2 | ${enc('sha256')} > ${dir}/tmpW3nL0c`);
  await ok(`zfs send -i daily-2 ${ds}@daily-3 | ${enc('sha256')} > ${dir}/tmpb7Yq2D`);
}

t.test("the original tool's map (openssl + gunzip; md5 and sha256 keys) restores; zb-list reads it", async (t) => {
  const { p, ds, sums } = await source(t, 3, 'daily-'), d = tmp(t), pw = join(d, 'pw');
  writeFileSync(pw, 'old secret\n', { mode: 0o600 });
  await legacyChunks(ds, join(d, 'oldhost/chunks'), pw);
  copyFileSync(join(FIX, 'gzip-openssl.json'), join(d, 'oldhost/map.json'));
  const l = await ok(`zb-list --dir ${d} --prefix oldhost -H`);
  t.match(l.out, /^tank\/data\tdaily-1\t-\tfull\t-\t-\t2\tgzip,openssl\(aes-256-cbc\)\t1495000000$/m, 'listed, filters in the order applied');
  const j = JSON.parse((await ok(`zb-list --dir ${d} --prefix oldhost --json tank/data`)).out);
  t.same(j.map((r: any) => [r.snapshot, r.type, r.base, r.format]), [['daily-1', 'full', null, 'original'],
    ['daily-2', 'incremental', 'daily-1', 'original'], ['daily-3', 'incremental', 'daily-2', 'original']], 'zb-list --json');
  await ok(`zfsbackup --password-file ${pw} --dataset tank/data directory --dest ${d} --prefix oldhost restore --to ${p.name}/old`);
  t.same(await snapNames(`${p.name}/old`), ['daily-1', 'daily-2', 'daily-3']);
  t.same(treeSums(`${p.mnt}/old`), sums['daily-3'], 'files identical');
  const v = await ok(`zfsbackup --dataset tank/data directory --dest ${d} --prefix oldhost verify`);
  t.match(v.stderr, /made by the original tool, no checksums/);
  writeFileSync(join(d, 'wrong'), 'not it\n', { mode: 0o600 });
  const w = await sh(`zfsbackup --password-file ${d}/wrong --dataset tank/data directory --dest ${d} --prefix oldhost restore --to ${p.name}/nope`);
  t.equal(w.code, 1);
  t.match(w.stderr, /decrypts the first chunk with neither md5 nor sha256/);
  t.equal((await sh(`zfs list ${p.name}/nope`)).code, 1);
});

t.test('a keyed map with filters in backup order and -md goes through the binaries', async (t) => {
  const { p, ds, sums } = await source(t, 1), d = tmp(t), pw = join(d, 'pw');
  writeFileSync(pw, 'k3y\n', { mode: 0o600 });
  mkdirSync(join(d, 'P/chunks'), { recursive: true });
  await ok(`zfs send ${ds}@s1 | gzip | openssl enc -aes-256-cbc -salt -md sha256 -pass file:${pw} > ${d}/P/chunks/tmpK3yEd1`);
  copyFileSync(join(FIX, 'keyed-backup-order.json'), join(d, 'P/map.json'));
  await ok(`zb-chunk-dir -d --dest ${d} --prefix P tank/data | zb-encrypt -d --password-file ${pw} | zb-compress -d | zb-recv ${p.name}/k`);
  t.same(treeSums(`${p.mnt}/k`), sums.s1);
});

t.test('a map whose filter is a shell command is refused by name, nothing is run or received', async (t) => {
  const p = pool(t), d = tmp(t), marker = '/tmp/zb-legacy-pwned';
  rmSync(marker, { force: true });
  mkdirSync(join(d, 'oldhost/chunks'), { recursive: true });
  writeFileSync(join(d, 'oldhost/chunks/tmpEv1l00'), 'whatever');
  copyFileSync(join(FIX, 'shell-filter.json'), join(d, 'oldhost/map.json'));
  const r = await sh(`zfsbackup --dataset tank/data directory --dest ${d} --prefix oldhost restore --to ${p.name}/x`);
  t.equal(r.code, 1);
  t.match(r.stderr, /map filter \["\/bin\/sh","-c","touch \/tmp\/zb-legacy-pwned; gunzip"\] is not a gzip, pigz or openssl enc command; a command from a map is never run/);
  const z = await sh(`zb-chunk-dir -d --dest ${d} --prefix oldhost tank/data | wc -c`);
  t.equal(z.code, 1);
  t.match(z.out.trim(), /^0$/, 'not a byte emitted');
  t.notOk(existsSync(marker), 'nothing ran');
  t.equal((await sh(`zfs list ${p.name}/x`)).code, 1);
  const l = await ok(`zb-list --dir ${d} --prefix oldhost -H`);
  t.match(l.out, /\?\(\/bin\/sh\)/, 'zb-list shows it as unknown');
});

t.test('-R: a dataset and its children, full then incremental, restored whole with -C', async (t) => {
  const p = pool(t), d = tmp(t), ds = `${p.name}/data`;
  await ok(`zfs create ${ds} && zfs create ${ds}/a && zfs create ${ds}/a/b`);
  for (const x of ['', '/a', '/a/b']) fill(`${p.mnt}/data${x}/f.bin`, 200_000 + x.length);
  await ok(`zfs snapshot -r ${ds}@r1`);
  fill(`${p.mnt}/data/a/b/g.bin`, 100_000);
  await ok(`zfs snapshot -r ${ds}@r2`);
  const sums = treeSums(`${p.mnt}/data`);
  await ok(`zfsbackup -R -C --dataset ${ds} directory --dest ${d} --prefix P`);
  const list = readMap(join(d, 'P'))[ds].snapshots;
  t.same(list.map((e: any) => [e.name, e.incremental, e.recursive]), [['r1', false, true], ['r2', true, true]], 'a full and an incremental, both recursive');
  await ok(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P restore --to ${p.name}/back`);
  const kids = (await ok(`zfs list -H -o name -r ${p.name}/back`)).out.trim().split('\n');
  t.same(kids, [`${p.name}/back`, `${p.name}/back/a`, `${p.name}/back/a/b`], 'the children came back');
  t.same(await snapNames(`${p.name}/back/a/b`), ['r1', 'r2'], 'with their snapshots');
  t.same(treeSums(`${p.mnt}/back`), sums, 'every file of every child identical');
});
