// A store that does not make sense is never acted on: invalid maps refused by every
// operation in one line with nothing changed; a chunk file is deleted only when a dead run's
// marker proves it ours; a broken entry is replaced by storing its snapshot again; messages.
import t from 'tap';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { sh, ok, pool, fill, tmp, treeSums, sha256, ROOT } from './lib/util.js';

const readMap = (base: string) => JSON.parse(readFileSync(join(base, 'map.json'), 'utf8'));
/** Every path under dir (directories too, so that a created empty dir shows), with sha256 of files. */
function state(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e), r = rel ? `${rel}/${e}` : e, s = statSync(p);
      if (s.isDirectory()) { out[r + '/'] = 'dir'; walk(p, r); } else out[r] = sha256(readFileSync(p));
    }
  };
  walk(dir, '');
  return out;
}

/** A dataset with snapshots s1..sN, each changing something. */
async function source(t: any, n: number) {
  const p = pool(t), ds = `${p.name}/data`;
  await ok(`zfs create ${ds}`);
  fill(`${p.mnt}/data/big.bin`, 600_000);
  for (let i = 1; i <= n; i++) { fill(`${p.mnt}/data/s${i}.bin`, 150_000); await ok(`zfs snapshot ${ds}@s${i}`); }
  return { p, ds };
}

t.test('an invalid map: every operation exits 1 in one line naming the field; no file of the store changes', async (t) => {
  const { p, ds } = await source(t, 2), d = tmp(t), base = join(d, 'P');
  await ok(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P --chunk-size 256K`);
  fill(`${p.mnt}/data/s3.bin`, 100_000);
  await ok(`zfs snapshot ${ds}@s3`);    // so that a backup would have something to store
  const good = readMap(base), [e1, e2] = good[ds].snapshots;
  t.ok(e1.chunks.length >= 2, 'real chunk files in the store');
  const copy = () => JSON.parse(JSON.stringify(good));
  const cases: [string, (m: any) => void, string][] = [
    ['"snapshots": "oops"', m => { m[ds].snapshots = 'oops'; }, `${ds}.snapshots is not a list of snapshot entries`],
    ['snapshots keyed by name, one entry bad', m => { m[ds] = { s1: e1, s2: { ...e2, incremental: 'yes' } }; }, `${ds}.s2.incremental is not true or false`],
    ['an entry without a chunk list', m => { delete m[ds].snapshots[1].chunks; }, `${ds}.snapshots[1].chunks is missing`],
    ["a chunk name with '/'", m => { m[ds].snapshots[0].chunks[1].name = `../P/chunks/${e1.chunks[1].name}`; }, `${ds}.snapshots[0].chunks[1].name is not a chunk file name`],
    ['a sha256 of the wrong length', m => { m[ds].snapshots[1].chunks[0].sha256 += '0'; }, `${ds}.snapshots[1].chunks[0].sha256 is not a sha256 (64 hex digits)`],
    ['a duplicated guid', m => { m[ds].snapshots.push({ ...e1, name: 'again' }); }, `${ds}.snapshots[2].guid is ${e1.guid}, the guid of ${ds}.snapshots[0] too`],
    ['an incremental whose parent has no guid', m => { m[ds].snapshots[1].parent = { name: 's1' }; }, `${ds}.snapshots[1].parent.guid is missing`],
  ];
  const W = `zfsbackup --dataset ${ds} directory --dest ${d} --prefix P`;
  const ops: [string, string][] = [
    ['backup', W],
    ['list', `${W} list`],
    ['verify', `${W} verify`],
    ['restore --to', `${W} restore --to ${p.name}/back`],
    ['zb-send | zb-chunk-dir', `zb-send -i s2 ${ds}@s3 2>/dev/null | zb-chunk-dir --dest ${d} --prefix P`],
    ['zb-chunk-dir -d', `zb-chunk-dir -d --dest ${d} --prefix P ${ds} > /dev/null`],
    ['zb-chunk-dir --verify', `zb-chunk-dir --verify --dest ${d} --prefix P`],
    ['zb-list --dir', `zb-list --dir ${d} --prefix P ${ds}`],
  ];
  for (const [what, change, field] of cases) {
    const m = copy(); change(m);
    writeFileSync(join(base, 'map.json'), JSON.stringify(m, null, 2));
    const before = state(base);
    for (const [op, cmd] of ops) {
      const r = await sh(cmd);
      t.equal(r.code, 1, `${what}: ${op} exits 1`);
      t.match(r.stderr, /^[^\n]+\n$/, `${what}: ${op} says one line`);
      t.ok(r.stderr.includes(`map.json': ${field}`) && r.stderr.includes('nothing was changed'), `${what}: ${op} names ${field}`)
        || t.comment(r.stderr);
      t.equal(r.out, '', `${what}: ${op} prints nothing on stdout`);
    }
    t.same(state(base), before, `${what}: every file of the store unchanged (sha256 of each, the map's bytes)`);
    t.equal((await sh(`zfs list ${p.name}/back`)).code, 1, `${what}: nothing received`);
  }
  writeFileSync(join(base, 'map.json'), JSON.stringify(good));
  await ok(W);
  t.same(readMap(base)[ds].snapshots.map((e: any) => e.name), ['s1', 's2', 's3'], 'the repaired map takes the next backup');
});

t.test("chunk files: a stray one survives a backup; a dead run's staging dir and the chunks its marker lists are removed", async (t) => {
  const { p, ds } = await source(t, 1), d = tmp(t), base = join(d, 'P'), c = join(base, 'chunks');
  await ok(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P`);
  const stem = `${ds.replace(/\//g, '_')}@s9.4242`, kept = readMap(base)[ds].snapshots[0].chunks[0].name;
  writeFileSync(join(c, `${stem}.000`), 'a chunk nobody can vouch for');
  // a dead run (pid 999999999 cannot exist) that published two chunks, then died before the
  // map: its marker lists them
  const dead = join(c, `.zb-partial.${hostname()}.999999999.0badc0de`);
  mkdirSync(dead);
  writeFileSync(join(dead, '.publish'), JSON.stringify({ chunks: [`${stem}.r0badc0de.000`, `${stem}.r0badc0de.001`, `${stem}.r0badc0de.002`] }));
  writeFileSync(join(c, `${stem}.r0badc0de.000`), 'published by the dead run');
  writeFileSync(join(c, `${stem}.r0badc0de.001`), 'published by the dead run');
  writeFileSync(join(dead, `${stem}.r0badc0de.002`), 'still in its staging');
  // a dead run that never reached publishing: only its staging
  const early = join(c, `.zb-partial.${hostname()}.999999998.00c0ffee`);
  mkdirSync(early); writeFileSync(join(early, `${stem}.777.000`), 'staged');
  // a dead run that committed (the map references a chunk its marker lists) and died before
  // removing its marker: none of its chunks is deleted, even one the map no longer references
  const done = join(c, `.zb-partial.${hostname()}.999999997.0000beef`);
  mkdirSync(done);
  writeFileSync(join(done, '.publish'), JSON.stringify({ chunks: [kept, `${stem}.88.000`] }));
  writeFileSync(join(c, `${stem}.88.000`), 'of a committed run, its entry since replaced');
  // not ours to judge: a live run of this host, a run of another host
  const live = await ok('sleep 60 >/dev/null 2>&1 & echo $!');
  const pid = Number(live.out.trim());
  t.teardown(() => { try { process.kill(pid); } catch { /* gone */ } });
  const running = join(c, `.zb-partial.${hostname()}.${pid}.12345678`), other = join(c, '.zb-partial.otherhost.999999999.87654321');
  for (const x of [running, other]) { mkdirSync(x); writeFileSync(join(x, `${stem}.5.000`), 'in progress'); }
  const v = await ok(`zb-chunk-dir --verify --dest ${d} --prefix P`);
  t.match(v.stderr, `note: 'chunks/${stem}.000' is not in the map; zfsbackup does not delete it (remove it by hand if no backup is running)`);
  t.match(v.stderr, `note: 'chunks/${stem}.r0badc0de.000' was published by a failed backup and is not in the map: the next backup removes it`);
  t.match(v.stderr, `note: 'chunks/${stem}.88.000' is not in the map; zfsbackup does not delete it`, 'a committed run: not called failed');
  t.match(v.stderr, `'chunks/.zb-partial.${hostname()}.${pid}.12345678' is the staging directory of a running backup (pid ${pid})`);
  t.match(v.stderr, `'chunks/.zb-partial.otherhost.999999999.87654321' is a staging directory of host 'otherhost'`);
  fill(`${p.mnt}/data/s2.bin`, 1000); await ok(`zfs snapshot ${ds}@s2`);
  await ok(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P`);
  const left = readdirSync(c).sort();
  t.ok(left.includes(`${stem}.000`), 'the stray chunk file survives the backup');
  t.equal(readFileSync(join(c, `${stem}.000`), 'utf8'), 'a chunk nobody can vouch for', 'unchanged');
  t.notOk(left.includes(`${stem}.r0badc0de.000`) || left.includes(`${stem}.r0badc0de.001`), "the dead run's published chunks are removed");
  t.notOk(existsSync(dead) || existsSync(early) || existsSync(done), "the dead runs' staging dirs are removed");
  t.ok(existsSync(join(c, kept)) && existsSync(join(c, `${stem}.88.000`)), "a run that committed: its chunks are kept");
  t.ok(existsSync(join(running, `${stem}.5.000`)) && existsSync(join(other, `${stem}.5.000`)), 'a live run and another host are left alone');
  t.same(readMap(base)[ds].snapshots.map((e: any) => e.name), ['s1', 's2']);
  await ok(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P verify`);
});

t.test('a broken entry (a missing chunk mid-chain) is replaced by storing the snapshot again; a full replaces an incremental', async (t) => {
  const { p, ds } = await source(t, 3), d = tmp(t), base = join(d, 'P');
  await ok(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P --chunk-size 64K`);
  const m0 = readMap(base), s2 = m0[ds].snapshots[1];
  t.ok(s2.chunks.length >= 2, 's2 has several chunks');
  unlinkSync(join(base, 'chunks', s2.chunks[1].name));
  const v = await sh(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P verify`);
  t.equal(v.code, 1);
  t.match(v.out, `chunk '${s2.chunks[1].name}' is missing`);
  const r = await ok(`zb-send -i s1 ${ds}@s2 | zb-chunk-dir --dest ${d} --prefix P --chunk-size 64K`);
  t.match(r.stderr, new RegExp(`^zb-chunk-dir: warning: replaced the entry of ${ds}@s2 \\(guid ${s2.guid}\\): chunk '${s2.chunks[1].name.replace(/[.]/g, '\\.')}' of ${ds}@s2 is missing; stored \\d+ chunk`));
  const m1 = readMap(base), list = m1[ds].snapshots;
  t.same(list.map((e: any) => [e.name, e.guid]), m0[ds].snapshots.map((e: any) => [e.name, e.guid]), 'one entry per guid, in order');
  t.notSame(list[1].chunks.map((c: any) => c.name), s2.chunks.map((c: any) => c.name), 'new chunk files (run-tagged names: the old ones are not overwritten)');
  t.ok(existsSync(join(base, 'chunks', s2.chunks[0].name)), "the replaced entry's chunk files are kept");
  const v2 = await ok(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P verify`);
  t.match(v2.stderr, `'chunks/${s2.chunks[0].name}' is not in the map; zfsbackup does not delete it`);
  await ok(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P restore --to ${p.name}/back`);
  t.same(treeSums(`${p.mnt}/back`), treeSums(`${p.mnt}/data`), 'restore of the last snapshot works again');
  const again = await ok(`zb-send -i s1 ${ds}@s2 | zb-chunk-dir --dest ${d} --prefix P`);
  t.match(again.stderr, /already stored/, 'an intact entry of the same kind is not stored again');
  const full = await ok(`zb-send ${ds}@s2 | zb-chunk-dir --dest ${d} --prefix P`);
  t.match(full.stderr, `zb-chunk-dir: replaced the entry of ${ds}@s2 (guid ${s2.guid}): it was an incremental on 's1', this is a full;`);
  const m2 = readMap(base)[ds].snapshots;
  t.same(m2.map((e: any) => [e.name, e.incremental]), [['s1', false], ['s2', false], ['s3', true]]);
  t.equal(m2[2].parent.guid, s2.guid, 's3 chains onto the new s2');
  await ok(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P restore --to ${p.name}/back2 --snapshot s3`);
  t.same((await ok(`zfs list -H -o name -t snapshot -r ${p.name}/back2`)).out.trim().split('\n').map(l => l.split('@')[1]), ['s2', 's3'], 'restored from the new full');
  // an intact entry is never replaced by an incremental that could not be restored
  fill(`${p.mnt}/data/s4.bin`, 1000); await ok(`zfs snapshot ${ds}@s4`);
  fill(`${p.mnt}/data/s5.bin`, 1000); await ok(`zfs snapshot ${ds}@s5`);
  await ok(`zb-send ${ds}@s5 | zb-chunk-dir --dest ${d} --prefix P`);
  const before = readFileSync(join(base, 'map.json'));
  const inc = await ok(`zb-send -i s4 ${ds}@s5 | zb-chunk-dir --dest ${d} --prefix P`);
  t.match(inc.stderr, new RegExp(`^zb-chunk-dir: warning: ${ds}@s5 \\(guid \\d+\\) is already stored in '.*' as a full, which restores; this stream, an incremental on 's4', would not restore \\(its base \\(guid \\d+\\) is not in the map\\); nothing written\n$`));
  t.same(readFileSync(join(base, 'map.json')), before, 'the map is unchanged');
});

t.test('messages: read-only destination; a snapshot inside a stored -I stream; a dataset the map does not hold', async (t) => {
  const { p, ds } = await source(t, 4), d = tmp(t);
  // (a) a zfs-fuse dataset with readonly=on, empty and holding a store
  await ok(`zfs create ${p.name}/ro && zfs create ${p.name}/ro2`);
  await ok(`zfsbackup --dataset ${ds} directory --dest ${p.mnt}/ro2 --prefix P`);
  await ok(`zfs set readonly=on ${p.name}/ro && zfs set readonly=on ${p.name}/ro2`);
  fill(`${p.mnt}/data/s5.bin`, 1000); await ok(`zfs snapshot ${ds}@s5`);
  for (const [dest, prefix, from] of [[`${p.mnt}/ro`, 'Q', ''], [`${p.mnt}/ro2`, 'Q', ''], [`${p.mnt}/ro2`, 'P', '-i s4']]) {
    const r = await sh(`zb-send ${from} ${ds}@s5 2>/dev/null | zb-chunk-dir --dest ${dest} --prefix ${prefix}`);
    t.equal(r.code, 1);
    t.equal(r.stderr, `zb-chunk-dir: destination '${dest}' is read-only\n`, `${dest} --prefix ${prefix}: said so, not ENOENT`);
  }
  const wr = await sh(`zfsbackup --dataset ${ds} directory --dest ${p.mnt}/ro --prefix Q`);
  t.equal(wr.code, 1);
  t.match(wr.stderr, new RegExp(`^zfsbackup: zb-chunk-dir \\(stage \\d of \\d\\) failed: destination '${p.mnt}/ro' is read-only$`, 'm'));
  t.match((await ok(`zb-chunk-dir --verify --dest ${p.mnt}/ro2 --prefix P`)).out, /no problems/, 'a read-only store can still be verified');
  // (h) s2 and s3 only inside the -I stream stored as s4
  await ok(`zb-send ${ds}@s1 | zb-chunk-dir --dest ${d} --prefix P`);
  await ok(`zb-send -I s1 ${ds}@s4 | zb-chunk-dir --dest ${d} --prefix P`);
  const r = await sh(`zb-chunk-dir -d --dest ${d} --prefix P ${ds}@s2 | wc -c`);
  t.equal(r.code, 1);
  t.equal(r.stderr, `zb-chunk-dir: no snapshot '${ds}@s2' of its own in the map; the -I stream stored as '${ds}@s4' (from 's1') may contain it: restore --snapshot s4\n`);
  const w = await sh(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P restore --to ${p.name}/x --snapshot s3`);
  t.equal(w.code, 1);
  t.match(w.stderr, `no snapshot '${ds}@s3' of its own in the map; the -I stream stored as '${ds}@s4' (from 's1') may contain it: restore --snapshot s4`);
  await ok(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P restore --to ${p.name}/x --snapshot s4`);
  t.same((await ok(`zfs list -H -o name -t snapshot -r ${p.name}/x`)).out.trim().split('\n').map(l => l.split('@')[1]), ['s1', 's2', 's3', 's4'], 'as the hint says');
  const n = await sh(`zb-chunk-dir -d --dest ${d} --prefix P ${ds}@nope`);
  t.equal(n.stderr, `zb-chunk-dir: no snapshot '${ds}@nope' of its own in the map; the -I stream stored as '${ds}@s4' (from 's1') may contain it: restore --snapshot s4\n`);
  // (e) a dataset the map does not hold
  const l = await sh(`zb-list --dir ${d} --prefix P tank/other`);
  t.equal(l.code, 1);
  t.equal(l.out, '', 'no empty table');
  t.equal(l.stderr, `zb-list: no backup of 'tank/other' in '${d}/P/map.json' (it holds: ${ds})\n`);
  const e = await sh(`zb-chunk-dir -d --dest ${d} --prefix P tank/other`);
  t.equal(e.stderr, `zb-chunk-dir: no backup of 'tank/other' in '${d}/P/map.json' (it holds: ${ds})\n`, 'findEntry: the same shape');
  const v = await sh(`zb-chunk-dir --verify --dest ${d} --prefix nope`);
  t.equal(v.code, 1, 'verify of a prefix without a map is not "no problems"');
  t.equal(v.out, `no map in '${d}/nope' (there is no map.json: is the prefix right?)\n`);
});

t.test('a stream header that would make an invalid map entry is refused before a chunk is written', async (t) => {
  const d = tmp(t), g = join(d, 'gen.mjs');
  writeFileSync(g, `import { ZbWriter, newMeta } from '${ROOT}/dist/lib/stream/zb.js';
const w = new ZbWriter(1, newMeta(JSON.parse(process.argv[2])));
for await (const b of process.stdin) await w.write(b);
await w.end();\n`);
  fill(join(d, 'in'), 100_000);
  const meta = (more: object) => `'${JSON.stringify({ dataset: 'tank/data', snapshot: 'a', guid: '1', base: null, filters: [], ...more })}'`;
  await ok(`node ${g} ${meta({})} < ${d}/in | zb-chunk-dir --dest ${d} --prefix P`);
  const before = state(join(d, 'P'));
  for (const [more, field] of [[{ guid: '2', createtxg: 'x1' }, 'tank/data@a.createtxg is not a createtxg'],
    [{ guid: '3', filters: [{ kind: 'compress', alg: 'brotli' }] }, 'tank/data@a.filters[0].alg is not a compression zb-compress knows'],
    [{ guid: '4', base: { name: 'x/y', guid: '1' } }, 'tank/data@a.parent.name is not a snapshot name']] as [object, string][]) {
    const r = await sh(`node ${g} ${meta(more)} < ${d}/in 2>/dev/null | zb-chunk-dir --dest ${d} --prefix P`);
    t.equal(r.code, 1);
    t.match(r.stderr, new RegExp(`^zb-chunk-dir: the stream's header cannot make a valid map entry: ${field.replace(/[.[\]]/g, '\\$&')}.*\n$`));
  }
  t.same(state(join(d, 'P')), before, 'nothing written, the map unchanged');
});
