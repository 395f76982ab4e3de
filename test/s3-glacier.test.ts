// The archive tier through a fake (test/lib/glacier-proxy.ts, in front of a real s3rver):
// chunks in GLACIER or DEEP_ARCHIVE get RestoreObject requests, all of a chain at once,
// exit 3 with how many are pending, the tier and when to run again; no chunk is read
// before all are readable; --wait polls until they are; GLACIER_IR needs nothing.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sh, ok, tmp, fill, pool } from './lib/util.js';
import { s3rver, S3ENV, objectFile } from './lib/s3.js';
import { glacierProxy } from './lib/glacier-proxy.js';

const srv = await s3rver(t), px = await glacierProxy(srv.url);
t.teardown(() => px.close());
const env = S3ENV, o = `--bucket arch --server ${px.url} --prefix G --no-glacier`;
const chunks = () => JSON.parse(readFileSync(objectFile(srv, 'arch', 'G/map.json'), 'utf8'))['tank/d'].snapshots[0].chunks.map((c: any) => `arch/G/chunks/${c.name}`);

t.test('archived chunks: RestoreObject for each at once, exit 3 saying how many, the tier, when; nothing read; then a restore works', async (t) => {
  const d = tmp(t), f = join(d, 'in');
  fill(f, 13 << 20);
  await ok(`zb-chunk-s3 ${o} --dataset tank/d --snapshot s1 --chunk-size 5M --part-size 5M < ${f}`, { env });
  const [a, b, c] = chunks();
  px.archived.set(a, 'GLACIER'); px.archived.set(b, 'DEEP_ARCHIVE'); px.archived.set(c, 'GLACIER_IR');
  px.gets.length = 0;
  const r = await sh(`zb-chunk-s3 -d --raw ${o} --restore-tier Standard --restore-days 2 tank/d > ${join(d, 'out')}`, { env });
  t.equal(r.code, 3, 'the distinct status');
  t.equal(r.stderr, `zb-chunk-s3: 2 of 3 chunk(s) are in GLACIER/DEEP_ARCHIVE: restore requested (tier Standard, readable for 2 day(s)); run again in about 12 hours, or give --wait\n`);
  t.same([...px.restores].sort(), [[a, 'Standard'], [b, 'Standard']], 'one request per archived chunk; none for GLACIER_IR');
  t.same(px.gets, [], 'not a byte read');
  const again = await sh(`zb-chunk-s3 -d --raw ${o} tank/d > /dev/null`, { env });
  t.equal(again.code, 3);
  t.equal(px.requests.length, 2, 'a restore already in progress is not requested again');
  px.done.add(a);
  const heads = px.answered.length;
  const w = sh(`zb-chunk-s3 -d --raw --wait ${o} tank/d > ${join(d, 'out')}`, { env: { ...env, ZB_S3_POLL_MS: '200' } });
  // it looked (3 presence, 3 class) and waits: counted when answered, for b's class is decided
  // as the answer goes out (counted on arrival, b could be done before it was looked at)
  while (px.answered.length < heads + 6) await new Promise(r => setTimeout(r, 50));
  px.done.add(b);
  const wr = await w;
  t.equal(wr.code, 0, wr.stderr);
  t.match(wr.stderr, /^zb-chunk-s3: 1 of 3 chunk\(s\) are in GLACIER\/DEEP_ARCHIVE: restore requested \(tier Bulk.*; waiting$/m);
  t.ok(readFileSync(join(d, 'out')).equals(readFileSync(f)), '--wait: then the stream, identical');
});

t.test('zfsbackup restore asks for the whole chain at once (full and incremental), exits 3, receives nothing', async (t) => {
  const p = pool(t), ds = `${p.name}/data`;
  await ok(`zfs create ${ds}`);
  fill(`${p.mnt}/data/a.bin`, 6 << 20); await ok(`zfs snapshot ${ds}@s1`);
  fill(`${p.mnt}/data/b.bin`, 1 << 20); await ok(`zfs snapshot ${ds}@s2`);
  const m = `s3 --bucket arch --server ${px.url} --prefix W --no-glacier`;
  await ok(`zfsbackup --dataset ${ds} ${m} --chunk-size 5M --part-size 5M`, { env });
  const all = JSON.parse(readFileSync(objectFile(srv, 'arch', 'W/map.json'), 'utf8'))[ds].snapshots.flatMap((e: any) => e.chunks.map((c: any) => `arch/W/chunks/${c.name}`));
  t.ok(all.length >= 3);
  for (const k of all) px.archived.set(k, 'GLACIER');
  const r = await sh(`zfsbackup --dataset ${ds} ${m} restore --to ${p.name}/back`, { env });
  t.equal(r.code, 3);
  t.match(r.stderr, new RegExp(`^zfsbackup: ${all.length} of ${all.length} chunk\\(s\\) are in GLACIER: restore requested \\(tier Bulk`));
  t.same(all.filter(k => !px.restores.has(k)), [], 'every chunk of the chain asked for, in one run');
  t.equal((await sh(`zfs list ${p.name}/back`)).code, 1, 'nothing received');
});
