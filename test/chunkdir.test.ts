// zb-chunk-dir through real pipes: chunking, the map commit rules, failure cleanup,
// locking, a corrupt chunk caught before the stream ends (its last piece held back).
import t from 'tap';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { sh, ok, pool, fill, tmp, sha256, ROOT } from './lib/util.js';

/** A script that writes stdin as a zb stream with the given metadata (our own writer). */
function gen(dir: string): string {
  const p = join(dir, 'gen.mjs');
  writeFileSync(p, `import { ZbWriter, newMeta } from '${ROOT}/dist/lib/stream/zb.js';
const w = new ZbWriter(1, newMeta(JSON.parse(process.argv[2])));
for await (const b of process.stdin) await w.write(b);
await w.end();\n`);
  return `node ${p}`;
}
const meta = (snap: string, guid: string, more: object = {}) =>
  `'${JSON.stringify({ dataset: 'tank/data', snapshot: snap, guid, base: null, filters: [], ...more })}'`;
const readMap = (base: string) => JSON.parse(readFileSync(join(base, 'map.json'), 'utf8'));
const chunkFiles = (base: string) => existsSync(join(base, 'chunks')) ? readdirSync(join(base, 'chunks')).sort() : [];

t.test('--chunk-size 1M: several chunks, sizes and sha256 in the map, -d gives the payload back', async (t) => {
  const d = tmp(t), g = gen(d);
  fill(join(d, 'in'), 3 * 1048576 + 12345);
  await ok(`${g} ${meta('daily-1', '111')} < ${d}/in | zb-chunk-dir --dest ${d} --prefix P --chunk-size 1M`);
  const e = readMap(join(d, 'P'))['tank/data'].snapshots[0];
  t.same(e.chunks.map((c: any) => c.size), [1048576, 1048576, 1048576, 12345]);
  t.same(e.chunks.map((c: any) => c.name), [0, 1, 2, 3].map(i => `tank_data@daily-1.111.00${i}`));
  t.equal(e.chunks[3].sha256, sha256(readFileSync(join(d, 'P/chunks', e.chunks[3].name))));
  t.equal(readMap(join(d, 'P'))['@zfsbackup'].version, 1);
  const r = await ok(`zb-chunk-dir -d --raw --dest ${d} --prefix P tank/data@daily-1`);
  t.equal(sha256(r.stdout), sha256(readFileSync(join(d, 'in'))), 'payload identical');
  const z = await ok(`zb-chunk-dir -d --dest ${d} --prefix P tank/data | zb-chunk-dir --dest ${d} --prefix Q --chunk-size 2M`);
  t.equal(z.code, 0);
  t.same(readMap(join(d, 'Q'))['tank/data'].snapshots[0].chunks.map((c: any) => c.size), [2097152, 1048576 + 12345], 'a -d stream is a zb stream with the stored header');
  await ok(`${g} ${meta('daily-1', '111')} < ${d}/in | zb-chunk-dir --dest ${d} --prefix R --chunk-size 300K`);
  const odd = readMap(join(d, 'R'))['tank/data'].snapshots[0].chunks.map((c: any) => c.size);
  t.equal(odd.length, Math.ceil((3 * 1048576 + 12345) / 307200));
  t.ok(odd.slice(0, -1).every((n: number) => n === 307200), 'chunks smaller than the write buffer, cut exactly');
  t.equal(sha256((await ok(`zb-chunk-dir -d --raw --dest ${d} --prefix R tank/data`)).stdout), sha256(readFileSync(join(d, 'in'))));
});

t.test('a payload of an exact multiple of the chunk size makes no empty chunk; 0 bytes make none', async (t) => {
  const d = tmp(t), g = gen(d);
  fill(join(d, 'in'), 2 * 1048576);
  await ok(`${g} ${meta('exact', '222')} < ${d}/in | zb-chunk-dir --dest ${d} --prefix P --chunk-size 1M`);
  await ok(`${g} ${meta('empty', '333')} < /dev/null | zb-chunk-dir --dest ${d} --prefix P --chunk-size 1M`);
  const [exact, empty] = readMap(join(d, 'P'))['tank/data'].snapshots;
  t.same(exact.chunks.map((c: any) => c.size), [1048576, 1048576]);
  t.same(empty.chunks, []);
  t.equal(empty.bytes, 0);
  t.equal(chunkFiles(join(d, 'P')).length, 2);
  t.equal((await ok(`zb-chunk-dir -d --raw --dest ${d} --prefix P tank/data@empty`)).stdout.length, 0);
  t.equal(sha256((await ok(`zb-chunk-dir -d --raw --dest ${d} --prefix P tank/data@exact`)).stdout), sha256(readFileSync(join(d, 'in'))));
});

t.test('a cut input (truncated stream) exits 1: map unchanged, no chunk of the run left', async (t) => {
  const d = tmp(t), g = gen(d), base = join(d, 'P');
  fill(join(d, 'in'), 3 << 20);
  await ok(`${g} ${meta('a', '1')} < ${d}/in | zb-chunk-dir --dest ${d} --prefix P --chunk-size 1M`);
  const before = readFileSync(join(base, 'map.json')), files = chunkFiles(base);
  const r = await sh(`${g} ${meta('b', '2')} < ${d}/in | head -c 2500000 | zb-chunk-dir --dest ${d} --prefix P --chunk-size 1M`);
  t.equal(r.code, 1);
  t.match(r.stderr, /^zb-chunk-dir: input ended before the end frame: the stream is incomplete/m);
  t.same(readFileSync(join(base, 'map.json')), before, 'map byte-identical');
  t.same(chunkFiles(base), files, 'no file of the failed run');
});

t.test('zb-send killed mid-stream (SIGKILL): exit 1, map unchanged, nothing left', async (t) => {
  const p = pool(t), d = tmp(t), base = join(d, 'P');
  await ok(`zfs create ${p.name}/data`);
  fill(`${p.mnt}/data/big`, 8 << 20);
  await ok(`zfs snapshot ${p.name}/data@s1`);
  const r = await sh(`mkfifo ${d}/f; zb-send ${p.name}/data > ${d}/f & s=$!
    pv -q -L 2M < ${d}/f | zb-chunk-dir --dest ${d} --prefix P --chunk-size 1M & c=$!
    for i in $(seq 200); do ls ${base}/chunks/.zb-partial*/* >/dev/null 2>&1 && break; sleep 0.1; done
    kill -9 $s; wait $c; echo "rc=$?"`);
  t.notMatch(r.stderr, /input is empty/, 'killed mid-stream, after chunks were written');
  t.match(r.out, /rc=1/);
  t.match(r.stderr, /zb-chunk-dir: input ended before the end frame/);
  t.notOk(existsSync(join(base, 'map.json')), 'no map written');
  t.same(chunkFiles(base), [], 'no chunk and no staging dir left');
});

t.test('disk full (2M tmpfs): exit 1 "no space left on device", map unchanged, chunks removed', async (t) => {
  const d = tmp(t), g = gen(d), mnt = join(d, 'small');
  mkdirSync(mnt);
  await ok(`mount -t tmpfs -o size=2M tmpfs ${mnt}`);
  t.teardown(() => sh(`umount ${mnt}`).then(() => undefined));
  fill(join(d, 'small.in'), 300_000); fill(join(d, 'big.in'), 3 << 20);
  await ok(`${g} ${meta('a', '1')} < ${d}/small.in | zb-chunk-dir --dest ${mnt} --prefix P --chunk-size 1M`);
  const before = readFileSync(join(mnt, 'P/map.json')), files = chunkFiles(join(mnt, 'P'));
  const r = await sh(`${g} ${meta('b', '2')} < ${d}/big.in | zb-chunk-dir --dest ${mnt} --prefix P --chunk-size 1M`);
  t.equal(r.code, 1);
  t.match(r.stderr, /^zb-chunk-dir: no space left on device in '.*\/P'$/m);
  t.same(readFileSync(join(mnt, 'P/map.json')), before, 'map unchanged');
  t.same(chunkFiles(join(mnt, 'P')), files, 'chunks of the failed run removed');
  const df = await ok(`df -k --output=used ${mnt} | tail -1`);
  t.ok(Number(df.out.trim()) < 600, 'the space is free again');
});

t.test('a zfs quota reached (zfs-fuse, quota=2M): "disk quota exceeded", map unchanged, chunks removed', async (t) => {
  const d = tmp(t), g = gen(d), p = pool(t), dest = join(p.mnt, 'small');
  await ok(`zfs create -o quota=2M ${p.name}/small`);
  fill(join(d, 'small.in'), 300_000); fill(join(d, 'big.in'), 3 << 20);
  await ok(`${g} ${meta('a', '1')} < ${d}/small.in | zb-chunk-dir --dest ${dest} --prefix P --chunk-size 1M`);
  const before = readFileSync(join(dest, 'P/map.json')), files = chunkFiles(join(dest, 'P'));
  const r = await sh(`${g} ${meta('b', '2')} < ${d}/big.in | zb-chunk-dir --dest ${dest} --prefix P --chunk-size 1M`);
  t.equal(r.code, 1);
  t.match(r.stderr, /^zb-chunk-dir: disk quota exceeded in '.*\/P'$/m);
  t.same(readFileSync(join(dest, 'P/map.json')), before, 'map unchanged');
  t.same(chunkFiles(join(dest, 'P')), files, 'chunks of the failed run removed');
});

t.test('two writers at once both commit; the map holds both entries', async (t) => {
  const d = tmp(t), g = gen(d);
  fill(join(d, 'in'), 4 << 20);
  await ok(`${g} ${meta('x', '10')} < ${d}/in | zb-chunk-dir --dest ${d} --prefix P --chunk-size 1M & a=$!
    ${g} ${meta('y', '20')} < ${d}/in | zb-chunk-dir --dest ${d} --prefix P --chunk-size 1M & b=$!
    wait $a && wait $b`);
  const list = readMap(join(d, 'P'))['tank/data'].snapshots;
  t.same(list.map((e: any) => e.name).sort(), ['x', 'y']);
  t.equal(chunkFiles(join(d, 'P')).length, 8);
  const v = await ok(`zb-chunk-dir --verify --dest ${d} --prefix P`);
  t.match(v.out, /verified 2 snapshot\(s\), 8 chunk\(s\)/);
});

t.test('a lock held by a live process: waits --lock-wait, fails naming the holder; a dead one is taken over', async (t) => {
  const d = tmp(t), g = gen(d), base = join(d, 'P');
  fill(join(d, 'in'), 100_000);
  await ok(`${g} ${meta('a', '1')} < ${d}/in | zb-chunk-dir --dest ${d} --prefix P`);
  const before = readFileSync(join(base, 'map.json'));
  const live = await ok('sleep 30 >/dev/null 2>&1 & echo $!');
  const pid = Number(live.out.trim());
  t.teardown(() => { try { process.kill(pid); } catch { /* gone */ } });
  writeFileSync(join(base, 'map.json.lock'), JSON.stringify({ pid, host: hostname(), time: '2026-01-01T00:00:00Z', nonce: 'n' }));
  const r = await sh(`${g} ${meta('b', '2')} < ${d}/in | zb-chunk-dir --dest ${d} --prefix P --lock-wait 1`);
  t.equal(r.code, 1);
  t.match(r.stderr, new RegExp(`map.json.lock' is held by pid ${pid} on host '${hostname()}'.*waited 1 s`));
  t.same(readFileSync(join(base, 'map.json')), before);
  t.same(chunkFiles(base), ['tank_data@a.1.000']);
  process.kill(pid);
  await new Promise(r => setTimeout(r, 200));
  await ok(`${g} ${meta('b', '2')} < ${d}/in | zb-chunk-dir --dest ${d} --prefix P --lock-wait 1`);
  t.same(readMap(base)['tank/data'].snapshots.map((e: any) => e.name), ['a', 'b'], 'stale lock of a dead pid taken over');
  t.notOk(existsSync(join(base, 'map.json.lock')), 'lock released');
});

t.test("a dead run's staging dir is removed by the next run; a chunk file no run marker lists is kept", async (t) => {
  const d = tmp(t), g = gen(d), c = join(d, 'P/chunks');
  fill(join(d, 'in'), 100_000);
  await ok(`${g} ${meta('a', '1')} < ${d}/in | zb-chunk-dir --dest ${d} --prefix P`);
  writeFileSync(join(c, 'tank_data@b.2.000'), 'orphan');
  mkdirSync(join(c, `.zb-partial.${hostname()}.999999999.0badc0de`));
  writeFileSync(join(c, `.zb-partial.${hostname()}.999999999.0badc0de/tank_data@b.2.001`), 'orphan');
  writeFileSync(join(c, 'README'), 'not ours');
  const v = await ok(`zb-chunk-dir --verify --dest ${d} --prefix P`);
  t.match(v.stderr, /note: 'chunks\/tank_data@b.2.000' is not in the map; zfsbackup does not delete it/);
  await ok(`${g} ${meta('c', '3')} < ${d}/in | zb-chunk-dir --dest ${d} --prefix P`);
  // (this test pinned the old rule, which deleted every chunk file the map did not mention)
  t.same(readdirSync(c).sort(), ['README', 'tank_data@a.1.000', 'tank_data@b.2.000', 'tank_data@c.3.000']);
});

t.test('one flipped byte: -d names the chunk and cuts the stream before its last piece and the end; --verify names it, exit 1', async (t) => {
  const d = tmp(t), g = gen(d);
  fill(join(d, 'in'), 3 << 20);
  await ok(`${g} ${meta('a', '1')} < ${d}/in | zb-chunk-dir --dest ${d} --prefix P --chunk-size 1M`);
  const bad = join(d, 'P/chunks/tank_data@a.1.001');
  const b = readFileSync(bad); b[500_000] ^= 1; writeFileSync(bad, b);
  const r = await sh(`zb-chunk-dir -d --raw --dest ${d} --prefix P tank/data@a > ${d}/out`);
  t.equal(r.code, 1);
  t.match(r.stderr, /^zb-chunk-dir: tank\/data@a: chunk 'tank_data@a.1.001' is corrupt \(sha256 [0-9a-f]{64}, the map says [0-9a-f]{64}\); the stream stops before the chunk's last 1048576 bytes and its end: nothing receives it$/m);
  t.equal(readFileSync(join(d, 'out')).length, 1 << 20, 'a 1 MiB chunk is one piece, held back whole: only the good first chunk went out');
  const v = await sh(`zb-chunk-dir --verify --dest ${d} --prefix P`);
  t.equal(v.code, 1);
  t.match(v.out, /tank\/data@a: chunk 'tank_data@a.1.001' is corrupt/);
  t.match(v.stderr, /1 problem\(s\) found/);
  // a chunk of several pieces: the first go out, the last is held back, and the stream has no end
  await ok(`${g} ${meta('b', '2')} < ${d}/in | zb-chunk-dir --dest ${d} --prefix Q --chunk-size 3M`);
  const big = join(d, 'Q/chunks/tank_data@b.2.000');
  const c = readFileSync(big); c[10] ^= 1; writeFileSync(big, c);
  const raw = await sh(`zb-chunk-dir -d --raw --dest ${d} --prefix Q tank/data > ${d}/out2`);
  t.equal(raw.code, 1);
  t.match(raw.stderr, /chunk 'tank_data@b.2.000' is corrupt .*before the chunk's last 1048576 bytes/);
  t.equal(readFileSync(join(d, 'out2')).length, 2 << 20, 'all but the last piece went out');
  const cut = await sh(`zb-chunk-dir -d --dest ${d} --prefix Q tank/data | zb-chunk-dir --dest ${d} --prefix R`);
  t.equal(cut.code, 1, 'the next stage sees a cut stream');
  t.match(cut.stderr, /incomplete/);
  t.notOk(existsSync(join(d, 'R/map.json')), 'and commits nothing');
});

t.test('the same snapshot (guid) again: "already stored", exit 0, map unchanged', async (t) => {
  const d = tmp(t), g = gen(d);
  fill(join(d, 'in'), 100_000);
  await ok(`${g} ${meta('a', '1')} < ${d}/in | zb-chunk-dir --dest ${d} --prefix P`);
  const before = readFileSync(join(d, 'P/map.json'));
  const r = await ok(`${g} ${meta('a', '1')} < ${d}/in | zb-chunk-dir --dest ${d} --prefix P`);
  t.match(r.stderr, /already stored/);
  t.same(readFileSync(join(d, 'P/map.json')), before);
});

t.test('input without source metadata is refused unless --dataset and --snapshot are given', async (t) => {
  const p = pool(t), d = tmp(t);
  await ok(`zfs create ${p.name}/data && zfs snapshot ${p.name}/data@s1`);
  const r = await sh(`zb-send --raw ${p.name}/data | zb-chunk-dir --dest ${d}`);
  t.equal(r.code, 1);
  t.match(r.stderr, /no source metadata.*give --dataset and --snapshot/);
  t.notOk(existsSync(join(d, hostname(), 'map.json')));
  await ok(`zb-send --raw ${p.name}/data | zb-chunk-dir --dest ${d} --dataset ${p.name}/data --snapshot s1`);
  const guid = (await ok(`zfs get -Hp -o value guid ${p.name}/data@s1`)).out.trim();
  const e = readMap(join(d, hostname()))[`${p.name}/data`].snapshots[0];
  t.equal(e.guid, guid, 'guid read from the zfs stream itself');
  await ok(`zb-chunk-dir -d --dest ${d} ${p.name}/data | zb-recv ${p.name}/copy`);
  t.equal((await ok(`zfs get -Hp -o value guid ${p.name}/copy@s1`)).out.trim(), guid);
});

t.test('usage and lookup errors are one line with the right status', async (t) => {
  const d = tmp(t);
  let r = await sh(`zb-chunk-dir < /dev/null`);
  t.equal(r.code, 2); t.match(r.stderr, /missing --dest/);
  r = await sh(`zb-chunk-dir --dest ${d}/nope < /dev/null`);
  t.equal(r.code, 1); t.match(r.stderr, /destination '.*\/nope' does not exist/);
  r = await sh(`zb-chunk-dir -d --dest ${d} tank/data`);
  t.equal(r.code, 1); t.match(r.stderr, new RegExp(`^zb-chunk-dir: no backup of 'tank/data' in '${d}/${hostname()}/map.json' \\(there is no such file: is the prefix right\\?\\)\n$`));
  r = await sh(`zb-chunk-dir --bogus`);
  t.equal(r.code, 2);
  mkdirSync(join(d, 'H'));
  writeFileSync(join(d, 'H/map.json'), JSON.stringify({ '@zfsbackup': { version: 1 }, 'tank/data': { snapshots: [{ name: 'a', guid: '1',
    incremental: false, parent: null, recursive: false, size: null, filters: [], bytes: 1, written: 'x',
    chunks: [{ name: '../../../etc/hostname', size: 1, sha256: '0' }] }] } }));
  r = await sh(`zb-chunk-dir -d --dest ${d} --prefix H tank/data | wc -c`);
  t.equal(r.code, 1);
  t.match(r.stderr, /^zb-chunk-dir: '.*\/H\/map.json': tank\/data.snapshots\[0\].chunks\[0\].name is not a chunk file name in chunks\/ .*"..\/..\/..\/etc\/hostname".*nothing was changed\n$/);
  t.equal(r.out.trim(), '0', 'a map cannot point outside chunks/');
});
