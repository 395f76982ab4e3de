// The s3 method end to end on zfs-fuse against a real s3rver: full + incrementals with -C -E
// in several chunks of several parts, restored identical; list, verify, zb-list --s3,
// zb-chunk-s3 -d into zb-recv; a chunk overwritten or deleted named by verify and restore;
// the objects read by a client we did not write (Debian's aws); the secret never in argv.
import t from 'tap';
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sh, ok, pool, fill, tmp, treeSums, sha256 } from './lib/util.js';
import { s3rver, S3ENV, objectFile } from './lib/s3.js';
import { ZFSBackupS3 } from '../dist/lib/index.js';

const srv = await s3rver(t);
const env = S3ENV;
const snapNames = async (ds: string) => (await ok(`zfs list -H -o name -t snapshot -r ${ds}`)).out.trim().split('\n').filter(Boolean).map(l => l.split('@')[1]);
const mapOf = (p: string) => JSON.parse(readFileSync(objectFile(srv, 'zbt', `${p}/map.json`), 'utf8'));

async function source(t: any, n: number) {
  const p = pool(t);
  await ok(`zfs create ${p.name}/data`);
  fill(`${p.mnt}/data/big.bin`, 9 << 20);
  fill(`${p.mnt}/data/text/a.txt`, 1 << 20, true);
  const sums: Record<string, Record<string, string>> = {};
  for (let i = 1; i <= n; i++) {
    fill(`${p.mnt}/data/s${i}.bin`, 300_000);
    await ok(`zfs snapshot ${p.name}/data@s${i}`);
    sums[`s${i}`] = treeSums(`${p.mnt}/data`);
  }
  return { p, ds: `${p.name}/data`, sums };
}

t.test('full + 2 incrementals with -C -E in chunks of several parts: list, verify, restore identical; -d into zb-recv', async (t) => {
  const { p, ds, sums } = await source(t, 3), d = tmp(t), key = join(d, 'key');
  const pub = (await ok(`age-keygen -o ${key} 2>&1 | sed -n 's/^Public key: //p'`)).out.trim();
  const m = `s3 --bucket zbt --prefix e2e --server ${srv.url} --no-glacier`;
  await ok(`zfsbackup -C -E --recipient ${pub} --dataset ${ds} ${m} --chunk-size 6M --part-size 5M`, { env });
  const list = mapOf('e2e')[ds].snapshots;
  t.same(list.map((e: any) => [e.name, e.incremental]), [['s1', false], ['s2', true], ['s3', true]]);
  t.ok(list[0].chunks.length >= 2 && list[0].chunks[0].size === 6 << 20, 'several 6M chunks (two parts each) for the full');
  const ls = await ok(`zfsbackup --dataset ${ds} ${m} list`, { env });
  t.same(ls.out.trim().split('\n').slice(1).map(l => l.split(/\s+/)[0]), ['s1', 's2', 's3'].map(x => `${ds}@${x}`));
  const zl = await ok(`zb-list --s3 --bucket zbt --prefix e2e --server ${srv.url} -H ${ds}`, { env });
  t.match(zl.out, new RegExp(`^${ds}\\ts3\\t\\d+\\tincremental\\ts2\\t\\d+\\t\\d+\\tgzip,age\\t\\d+$`, 'm'), 'zb-list --s3, the columns of --dir');
  t.match((await ok(`zfsbackup --dataset ${ds} ${m} verify`, { env })).out, /verified 3 snapshot\(s\)/);
  await ok(`zfsbackup --dataset ${ds} ${m} restore --identity ${key} --to ${p.name}/back --snapshot s2`, { env });
  t.same(await snapNames(`${p.name}/back`), ['s1', 's2']);
  t.same(treeSums(`${p.mnt}/back`), sums.s2, 'files identical to s2');
  await ok(`zfsbackup --dataset ${ds} ${m} restore --identity ${key} --to ${p.name}/back`, { env });
  t.same(treeSums(`${p.mnt}/back`), sums.s3, 'then identical to s3');
  fill(`${p.mnt}/data/s4.bin`, 1000); await ok(`zfs snapshot ${ds}@s4`);
  const b2 = await ok(`zfsbackup -v --dataset ${ds} ${m}`, { env });
  t.equal((b2.stderr.match(/sending/g) ?? []).length, 1, 'only the new snapshot: its base found by guid in the map');
  await ok(`zfsbackup --dataset ${ds} ${m} --chunk-size 6M backup`, { env });
  const plain = mapOf('e2e')[ds].snapshots.find((e: any) => e.name === 's4');
  t.same(plain.filters, [], 's4 stored without filters');
  await ok(`zb-chunk-s3 -d --bucket zbt --prefix e2e --server ${srv.url} ${ds}@s1 | zb-encrypt -d --identity ${key} | zb-compress -d | zb-recv ${p.name}/direct`, { env });
  t.same(treeSums(`${p.mnt}/direct`), sums.s1, 'zb-chunk-s3 -d piped into zb-recv');
});

t.test('a chunk object overwritten, then deleted: verify and restore name it, nothing is received', async (t) => {
  const { p, ds } = await source(t, 1);
  const m = `s3 --bucket zbt --prefix bad --server ${srv.url} --no-glacier`;
  await ok(`zfsbackup --dataset ${ds} ${m} --chunk-size 5M --part-size 5M`, { env });
  const c = mapOf('bad')[ds].snapshots[0].chunks[1], f = objectFile(srv, 'zbt', `bad/chunks/${c.name}`), esc = c.name.replace(/[.]/g, '\\.');
  const b = readFileSync(f); b[4321] ^= 0x40; writeFileSync(f, b);
  const v = await sh(`zfsbackup --dataset ${ds} ${m} verify`, { env });
  t.equal(v.code, 1);
  t.match(v.out, new RegExp(`${ds}@s1: chunk '${esc}' is corrupt`));
  const r = await sh(`zfsbackup --dataset ${ds} ${m} restore --to ${p.name}/back`, { env });
  t.equal(r.code, 1);
  t.match(r.stderr, new RegExp(`zb-chunk-s3 \\(stage 1 of 2\\) failed: .*chunk '${esc}' is corrupt`));
  t.equal((await sh(`zfs list ${p.name}/back`)).code, 1, 'nothing received');
  unlinkSync(f);
  const v2 = await sh(`zfsbackup --dataset ${ds} ${m} verify`, { env });
  t.match(v2.out, new RegExp(`chunk '${esc}' is missing`));
  const r2 = await sh(`zfsbackup --dataset ${ds} ${m} restore --to ${p.name}/back`, { env });
  t.equal(r2.code, 1);
  t.match(r2.stderr, new RegExp(`chunk '${esc}'.* is missing`));
  t.equal((await sh(`zfs list ${p.name}/back`)).code, 1, 'nothing received');
});

t.test('interop: Debian\'s aws lists the prefix and fetches a chunk whose sha256 matches the map', async (t) => {
  const d = tmp(t), f = join(d, 'in');
  fill(f, 7 << 20);
  await ok(`zb-chunk-s3 --bucket zbt --prefix io --server ${srv.url} --dataset tank/x --snapshot s --chunk-size 6M --part-size 5M < ${f}`, { env });
  const aws = `/usr/bin/aws --endpoint-url ${srv.url} s3api`;
  const ls = JSON.parse((await ok(`${aws} list-objects-v2 --bucket zbt --prefix io/`, { env })).out);
  const map = JSON.parse((await ok(`${aws} get-object --bucket zbt --key io/map.json ${join(d, 'map')} >/dev/null && cat ${join(d, 'map')}`, { env })).out);
  const chunks = map['tank/x'].snapshots[0].chunks;
  t.same(ls.Contents.map((o: any) => o.Key).sort(), ['io/map.json', ...chunks.map((c: any) => `io/chunks/${c.name}`)].sort());
  const got: Buffer[] = [];
  for (const c of chunks) {
    await ok(`${aws} get-object --bucket zbt --key io/chunks/${c.name} ${join(d, 'c')} >/dev/null`, { env });
    got.push(readFileSync(join(d, 'c')));
    t.equal(sha256(got.at(-1)!), c.sha256, `${c.name} (${c.size} bytes) as aws reads it`);
  }
  t.equal(chunks.length, 2);
  t.ok(Buffer.concat(got).equals(readFileSync(f)), 'the chunks are the input, nothing framed into them');
});

t.test('the wrapper hands the secret to zb-chunk-s3 in its environment, never in argv; --secret warns', async (t) => {
  const b: any = new ZFSBackupS3('tank/d', { bucket: 'zbt', server: srv.url, key: 'S3RVER', secret: 'TOPSECRET' });
  for (const s of [b.writeStage(), b.readStage(['-d', 'tank/d'])]) {
    t.notOk(s.argv.some((a: string) => a.includes('TOPSECRET')), `${s.name} argv`);
    t.same(s.env, { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'TOPSECRET' });
  }
  const r = await sh(`zfsbackup --dataset nopool/x s3 --bucket zbt --server ${srv.url} --key S3RVER --secret S3RVER list`);
  t.match(r.stderr, /^zfsbackup: warning: --secret on a command line is shown by ps/m);
});
