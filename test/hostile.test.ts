// Hostile states of the target and the store, on zfs-fuse (issue "Trust first"): each case
// asserts the exit status, the one message line, and that nothing was lost (file checksums
// on the target, its snapshots, the store's files and map bytes).
import t from 'tap';
import { existsSync, readFileSync, readdirSync, unlinkSync, writeFileSync, truncateSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { sh, ok, pool, fill, tmp, treeSums } from './lib/util.js';

const snapNames = async (ds: string) => (await ok(`zfs list -H -o name -t snapshot -r ${ds}`)).out.trim().split('\n').filter(Boolean).map(l => l.slice(l.indexOf('@') + 1));
const exists = async (ds: string) => (await sh(`zfs list -H ${ds}`)).code === 0;
const readMap = (d: string) => JSON.parse(readFileSync(join(d, 'P/map.json'), 'utf8'));
/** sha256 of every file in a store (chunks and map), to show nothing in it changed. */
function storeSums(d: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string, rel: string) => {
    for (const e of readdirSync(dir).sort()) {
      const p = join(dir, e), r = rel ? `${rel}/${e}` : e;
      if (statSync(p).isDirectory()) walk(p, r);
      else out[r] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(d, '');
  return out;
}
/** One diagnostic line, nothing else on stderr. */
function oneLine(t: any, stderr: string, re: RegExp) {
  const lines = stderr.trim().split('\n');
  t.equal(lines.length, 1, `one line: ${stderr.trim()}`);
  t.match(lines[0], re);
}

/** A pool with DS = POOL/data holding files and snapshots s1..sN. */
async function source(t: any, n: number) {
  const p = pool(t), ds = `${p.name}/data`;
  await ok(`zfs create ${ds}`);
  fill(`${p.mnt}/data/big.bin`, 1 << 20);
  for (let i = 1; i <= n; i++) {
    fill(`${p.mnt}/data/s${i}.bin`, 200_000 + i);
    await ok(`zfs snapshot ${ds}@s${i}`);
  }
  return { p, ds };
}

// ---- 1. never destroy data on a target that the backup did not put there

t.test('1. restore and the zfs method never replace or roll back what a target holds', async (t) => {
  const { p, ds } = await source(t, 3), d = tmp(t);
  await ok(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P`);
  const dir = `directory --dest ${d} --prefix P`;
  const cases: { name: string; setup: string; run: string; re: RegExp; target: string }[] = [
    { name: 'restore --to a dataset with files and no snapshot', target: 'mine',
      setup: `zfs create ${p.name}/mine && echo x > ${p.mnt}/mine/precious`,
      run: `zfsbackup --dataset ${ds} ${dir} restore --to ${p.name}/mine --snapshot s1`,
      re: /^zfsbackup: target '.*\/mine' exists and holds files \('precious'\) but no snapshot: receiving would replace them; choose a new dataset, or add --force to replace them; nothing was received/ },
    { name: 'the zfs method into a dataset with files and no snapshot', target: 'copy/data',
      setup: `zfs create -p ${p.name}/copy/data && echo x > ${p.mnt}/copy/data/precious`,
      run: `zfsbackup --dataset ${ds} zfs --dest ${p.name}/copy`,
      re: /^zfsbackup: target '.*\/copy\/data' exists and holds files \('precious'\) but no snapshot: .*add --force/ },
    { name: 'restore into a dataset with child datasets and no snapshot', target: 'kids',
      setup: `zfs create ${p.name}/kids && zfs create ${p.name}/kids/k`,
      run: `zfsbackup --dataset ${ds} ${dir} restore --to ${p.name}/kids`,
      re: /^zfsbackup: target '.*\/kids' has child datasets \(.*\/kids\/k\): a full receive would replace it/ },
    { name: 'restore into an unmounted dataset without snapshots', target: 'unmounted',
      setup: `zfs create ${p.name}/unmounted && echo x > ${p.mnt}/unmounted/precious && zfs umount ${p.name}/unmounted`,
      run: `zfsbackup --dataset ${ds} ${dir} restore --to ${p.name}/unmounted`,
      re: /^zfsbackup: target '.*\/unmounted' exists without a snapshot and is not mounted, so zfsbackup cannot tell whether it holds files/ },
    { name: 'a restore continued into a target changed since its snapshot', target: 'changed',
      setup: `zfsbackup --dataset ${ds} ${dir} restore --to ${p.name}/changed --snapshot s1 && echo mine > ${p.mnt}/changed/precious`,
      run: `zfsbackup --dataset ${ds} ${dir} restore --to ${p.name}/changed`,
      re: /^zfsbackup: target '.*\/changed' was changed since its snapshot 's1' \('precious' added\): receiving would roll that back; snapshot or undo the change, or add --force to discard it; nothing was received into '.*\/changed' by this run$/ },
    { name: 'a restore continued into a target whose file was edited in place', target: 'edited',
      setup: `zfsbackup --dataset ${ds} ${dir} restore --to ${p.name}/edited --snapshot s1 && sleep 1.1 && echo edit >> ${p.mnt}/edited/s1.bin`,
      run: `zfsbackup --dataset ${ds} ${dir} restore --to ${p.name}/edited`,
      re: /^zfsbackup: target '.*\/edited' was changed since its snapshot 's1' \('s1.bin' changed\)/ },
    { name: 'a restore continued into a target with a file removed', target: 'removed',
      setup: `zfsbackup --dataset ${ds} ${dir} restore --to ${p.name}/removed --snapshot s1 && rm ${p.mnt}/removed/big.bin`,
      run: `zfsbackup --dataset ${ds} ${dir} restore --to ${p.name}/removed`,
      re: /^zfsbackup: target '.*\/removed' was changed since its snapshot 's1' \('big.bin' removed\)/ },
    { name: 'a restore continued into a target with a snapshot of its own after the chain', target: 'own',
      setup: `zfsbackup --dataset ${ds} ${dir} restore --to ${p.name}/own --snapshot s1 && zfs snapshot ${p.name}/own@mine`,
      run: `zfsbackup --dataset ${ds} ${dir} restore --to ${p.name}/own`,
      re: /^zfsbackup: '.*\/own' has 'mine' after 's1', which the chain of .*@s3 does not hold: restoring would destroy it; restore into a new dataset, or add --force$/ },
    { name: 'a restore into a dataset whose snapshots are not in the chain', target: 'other',
      setup: `zfs create ${p.name}/other && echo x > ${p.mnt}/other/precious && zfs snapshot ${p.name}/other@x`,
      run: `zfsbackup --dataset ${ds} ${dir} restore --to ${p.name}/other`,
      re: /^zfsbackup: '.*\/other' exists with snapshots, none of them in the chain of .*@s3: restore into a new dataset/ },
    { name: 'the zfs method into a replica changed since its last snapshot', target: 'rep/data',
      setup: `zfsbackup --dataset ${ds} zfs --dest ${p.name}/rep && zfs snapshot ${ds}@s4 && echo mine > ${p.mnt}/rep/data/precious`,
      run: `zfsbackup --dataset ${ds} zfs --dest ${p.name}/rep`,
      re: /^zfsbackup: target '.*\/rep\/data' was changed since its snapshot 's3' \('precious' added\): .*add --force to discard it$/ },
  ];
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      await ok(c.setup);
      const ds2 = `${p.name}/${c.target}`;
      const mounted = (await ok(`zfs get -H -o value mounted ${ds2}`)).out.trim() === 'yes';
      const files = mounted ? treeSums(`${p.mnt}/${c.target}`) : {};
      const snaps = await snapNames(ds2);
      const store = storeSums(d);
      const started = Date.now();
      const r = await sh(c.run);
      t.equal(r.code, 1, 'exit 1');
      oneLine(t, r.stderr, c.re);
      t.ok(Date.now() - started < 30_000, 'within seconds');
      if (mounted) t.same(treeSums(`${p.mnt}/${c.target}`), files, 'every file on the target as it was');
      t.same(await snapNames(ds2), snaps, 'its snapshots as they were');
      t.same(storeSums(d), store, 'the store unchanged');
    });
  }
  await t.test('a restore to a snapshot the target already has, with newer ones after it: nothing to do, exit 0', async (t) => {
    await ok(`zfsbackup --dataset ${ds} ${dir} restore --to ${p.name}/newer`);
    const r = await ok(`zfsbackup -v --dataset ${ds} ${dir} restore --to ${p.name}/newer --snapshot s2`);
    t.match(r.stderr, /already has .*@s2/);
    t.same(await snapNames(`${p.name}/newer`), ['s1', 's2', 's3'], 'nothing destroyed');
  });
  await t.test('--force is the way through, and says so in zfsbackup(8)', async (t) => {
    await ok(`zfsbackup --force --dataset ${ds} ${dir} restore --to ${p.name}/mine`);
    t.same(await snapNames(`${p.name}/mine`), ['s1', 's2', 's3']);
    t.notOk(existsSync(`${p.mnt}/mine/precious`), 'replaced, as asked');
    await ok(`zfsbackup --force --dataset ${ds} ${dir} restore --to ${p.name}/changed`);
    t.same(await snapNames(`${p.name}/changed`), ['s1', 's2', 's3']);
    t.match(readFileSync(join(import.meta.dirname, '../man/zfsbackup.8'), 'utf8'), /^\.It Fl F , Fl -force$/m);
  });
});

t.test('1. a target that was only read (atime, children\'s mountpoints) is received into', async (t) => {
  const { p, ds } = await source(t, 2), d = tmp(t);
  await ok(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P`);
  await ok(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P restore --to ${p.name}/back --snapshot s1`);
  treeSums(`${p.mnt}/back`);   // reading a mounted copy changes it for zfs
  await ok(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P restore --to ${p.name}/back`);
  t.same(await snapNames(`${p.name}/back`), ['s1', 's2']);
  await ok(`zfsbackup --dataset ${ds} zfs --dest ${p.name}/rep`);
  treeSums(`${p.mnt}/rep/data`);
  fill(`${p.mnt}/data/new.bin`, 1000); await ok(`zfs snapshot ${ds}@s3`);
  await ok(`zfsbackup --dataset ${ds} zfs --dest ${p.name}/rep`);
  t.same(await snapNames(`${p.name}/rep/data`), ['s1', 's2', 's3']);
  t.same((await ok(`zfs list -H -o name -r ${p.name}`)).out.match(/zfsbackup-check/g), null, 'no comparison clone or snapshot left');
  // an empty dataset made by hand takes a full restore
  await ok(`zfs create ${p.name}/empty`);
  await ok(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P restore --to ${p.name}/empty`);
  t.same(await snapNames(`${p.name}/empty`), ['s1', 's2']);
});

t.test('1. -R: a snapshot the user made on a child of the replica is never destroyed', async (t) => {
  const p = pool(t), ds = `${p.name}/data`;
  await ok(`zfs create ${ds} && zfs create ${ds}/c1 && zfs snapshot -r ${ds}@r1`);
  await ok(`zfsbackup -R --dataset ${ds} zfs --dest ${p.name}/rep`);
  await ok(`zfs snapshot ${p.name}/rep/data/c1@mine && zfs snapshot -r ${ds}@r2`);
  const r = await sh(`zfsbackup -R --dataset ${ds} zfs --dest ${p.name}/rep`);
  t.equal(r.code, 1);
  oneLine(t, r.stderr, /^zfsbackup: target '.*\/rep\/data' holds .*\/rep\/data\/c1@mine, which the source does not: receiving would destroy it; rename or destroy it yourself, or add --force/);
  t.same(await snapNames(`${p.name}/rep/data/c1`), ['r1', 'mine'], 'the user\'s snapshot is there');
  await ok(`zfs destroy ${p.name}/rep/data/c1@mine`);
  await ok(`zfsbackup -R --dataset ${ds} zfs --dest ${p.name}/rep`);
  t.same(await snapNames(`${p.name}/rep/data/c1`), ['r1', 'r2'], 'then the backup goes on');
});

t.test('1. a comparison clone left by a killed run is removed, and never taken for the user\'s', async (t) => {
  const { p, ds } = await source(t, 2), d = tmp(t);
  await ok(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P`);
  await ok(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P restore --to ${p.name}/back --snapshot s1`);
  // what a run killed mid-check leaves: a snapshot of the target and a clone (pid 999999: not running)
  await ok(`zfs snapshot ${p.name}/back@zfsbackup-check-999999-0 && zfs clone ${p.name}/back@s1 ${p.name}/zfsbackup-check-999999-1`);
  await ok(`zfsbackup -q --dataset ${ds} directory --dest ${d} --prefix P restore --to ${p.name}/back`);
  t.same(await snapNames(`${p.name}/back`), ['s1', 's2']);
  t.notOk(await exists(`${p.name}/zfsbackup-check-999999-1`), 'the stale clone is gone');
});

// ---- 4. success means the backup can be restored

t.test('4. a missing chunk in the middle of a chain: the next backup repairs it, verify and restore then work', async (t) => {
  const { p, ds } = await source(t, 3), d = tmp(t);
  await ok(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P`);
  const s2 = readMap(d)[ds].snapshots[1];
  unlinkSync(join(d, 'P/chunks', s2.chunks[0].name));
  const v = await sh(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P verify`);
  t.equal(v.code, 1, 'verify sees it');
  const b = await sh(`zfsbackup -q --dataset ${ds} directory --dest ${d} --prefix P`);
  t.equal(b.code, 0, b.stderr);
  t.match(b.stderr, /^zfsbackup: the stored chain of .*@s2 is broken \(chunk '.*' of .*@s2 is missing\): it cannot be a base; storing again what the source still has$/m, 'said, even with -q');
  t.notMatch(b.stderr, /up to date/);
  const m = readMap(d)[ds].snapshots;
  t.same(m.map((e: any) => e.name), ['s1', 's2', 's3'], 'one entry per snapshot');
  await ok(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P verify`);
  await ok(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P restore --to ${p.name}/back`);
  t.same(await snapNames(`${p.name}/back`), ['s1', 's2', 's3']);
  t.same(treeSums(`${p.mnt}/back`), treeSums(`${p.mnt}/data`));
});

t.test('4. a broken chain whose snapshot the source no longer has: the newest is stored again on an intact base', async (t) => {
  const { p, ds } = await source(t, 3), d = tmp(t);
  await ok(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P`);
  unlinkSync(join(d, 'P/chunks', readMap(d)[ds].snapshots[1].chunks[0].name));
  await ok(`zfs destroy ${ds}@s2`);
  const b = await ok(`zfsbackup -v --dataset ${ds} directory --dest ${d} --prefix P`);
  t.match(b.stderr, /sending .*@s3 \(incremental from s1\)/);
  await ok(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P restore --to ${p.name}/back`);
  t.same(await snapNames(`${p.name}/back`), ['s1', 's3'], 's3 restores, on s1');
  t.same(treeSums(`${p.mnt}/back`), treeSums(`${p.mnt}/data`));
});

t.test('4. --full with the directory method stores one full stream of the latest snapshot', async (t) => {
  const { ds } = await source(t, 3), d = tmp(t);
  await ok(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P`);
  const before = readMap(d)[ds].snapshots.length;
  const r = await ok(`zfsbackup -v --full --dataset ${ds} directory --dest ${d} --prefix P`);
  const sent = r.stderr.split('\n').filter(l => l.includes('sending'));
  t.equal(sent.length, 1, 'one send');
  t.match(sent[0], /@s3 \(full\)/);
  const m = readMap(d)[ds].snapshots;
  t.equal(m.length, before, 'the full replaced the incremental entry of s3');
  t.same(m.at(-1).incremental, false, 's3 is stored as a full');
});

t.test('4. restore checks the whole chain before receiving anything', async (t) => {
  const { p, ds } = await source(t, 3), d = tmp(t), pw = join(d, 'pw');
  writeFileSync(pw, 'secret\n', { mode: 0o600 });
  await ok(`zfsbackup -E --password-file ${pw} --dataset ${ds} directory --dest ${d} --prefix P --chunk-size 64K`);
  const m = readMap(d)[ds].snapshots;
  const c3 = join(d, 'P/chunks', m[2].chunks[0].name), c2 = join(d, 'P/chunks', m[1].chunks[1].name);
  const cases: { name: string; damage: () => void; undo: () => void; run?: string; re: RegExp }[] = [
    { name: 'a missing chunk of the third snapshot', re: /^zfsbackup: cannot restore .*@s3: chunk '.*' of .*@s3 is missing; nothing was received$/,
      damage: () => { writeFileSync(c3 + '.aside', readFileSync(c3)); unlinkSync(c3); },
      undo: () => { writeFileSync(c3, readFileSync(c3 + '.aside')); unlinkSync(c3 + '.aside'); } },
    { name: 'a truncated chunk of the second snapshot', re: /^zfsbackup: cannot restore .*@s3: chunk '.*' of .*@s2 has 100 bytes, the map says \d+; nothing was received$/,
      damage: () => { writeFileSync(c2 + '.aside', readFileSync(c2)); truncateSync(c2, 100); },
      undo: () => { writeFileSync(c2, readFileSync(c2 + '.aside')); unlinkSync(c2 + '.aside'); } },
    { name: 'a password file that is not there', re: /^zfsbackup: password file '\/nonexistent' does not exist$/,
      run: `zfsbackup --password-file /nonexistent --dataset ${ds} directory --dest ${d} --prefix P restore --to ${p.name}/back`,
      damage: () => {}, undo: () => {} },
    { name: 'no key at all', re: /^zfsbackup: .*@s1 is encrypted \(age\): give --password-file or --identity$/,
      run: `zfsbackup --dataset ${ds} directory --dest ${d} --prefix P restore --to ${p.name}/back`,
      damage: () => {}, undo: () => {} },
  ];
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      c.damage();
      const store = storeSums(d);
      const r = await sh(c.run ?? `zfsbackup --password-file ${pw} --dataset ${ds} directory --dest ${d} --prefix P restore --to ${p.name}/back`);
      t.equal(r.code, 1);
      oneLine(t, r.stderr, c.re);
      t.notOk(await exists(`${p.name}/back`), 'nothing received');
      t.same(storeSums(d), store, 'the store unchanged');
      c.undo();
    });
  }
  await t.test('a chunk that fails its checksum mid-restore: the message says what the target holds', async (t) => {
    const b = readFileSync(c3); b[10] ^= 1; writeFileSync(c3, b);
    const r = await sh(`zfsbackup --password-file ${pw} --dataset ${ds} directory --dest ${d} --prefix P restore --to ${p.name}/back`);
    t.equal(r.code, 1);
    oneLine(t, r.stderr, /^zfsbackup: restore of .*@s3: zb-chunk-dir \(stage 1 of 3\) failed: .*is corrupt.*; '.*\/back' holds what this run restored up to 's2' \(s1, s2\): the same restore goes on from there$/);
    t.same(await snapNames(`${p.name}/back`), ['s1', 's2'], 'as it says');
    b[10] ^= 1; writeFileSync(c3, b);
    await ok(`zfsbackup --password-file ${pw} --dataset ${ds} directory --dest ${d} --prefix P restore --to ${p.name}/back`);
    t.same(await snapNames(`${p.name}/back`), ['s1', 's2', 's3'], 'and the same restore goes on');
  });
});

// ---- 5. messages that tell the truth

t.test('5. list of what a target or store does not hold is an error; --operation after the method; --help | reader that stops', async (t) => {
  const { p, ds } = await source(t, 1), d = tmp(t);
  await ok(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P`);
  const a = await sh(`zfsbackup --dataset ${p.name}/nothere directory --dest ${d} --prefix P list`);
  t.equal(a.code, 1);
  oneLine(t, a.stderr, /^zfsbackup: no backup of '.*\/nothere' in '.*\/P\/map.json' \(it holds: .*\/data\)$/);
  const b = await sh(`zfsbackup --dataset ${ds} zfs --dest ${p.name}/nothere list`);
  t.equal(b.code, 1);
  oneLine(t, b.stderr, /^zfsbackup: target '.*\/nothere\/data' does not exist: nothing of '.*\/data' is backed up in '.*\/nothere'$/);
  const c = await ok(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P --operation list`);
  t.match(c.out, new RegExp(`${ds}@s1`), '--operation after the method');
  const c2 = await sh(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix P --operation verify list`);
  t.equal(c2.code, 2, 'an operation word and --operation that differ are a usage error');
  const h = await sh(`(sleep 0.5; zfsbackup --help) | true`);
  t.notMatch(h.stderr, /\n\s+at /, 'no stack trace');
  t.ok(h.stderr.trim().split('\n').length <= 1, `at most one line: ${h.stderr}`);
  // -q: nothing on stderr on success, though a stage warns (a password file others can read)
  const pw = join(d, 'pw');
  writeFileSync(pw, 'secret\n', { mode: 0o644 });
  const loud = await ok(`zfsbackup -E --password-file ${pw} --dataset ${ds} directory --dest ${d} --prefix Q`);
  t.match(loud.stderr, /warning: password file .* is readable by others/, 'without -q the warning is shown');
  fill(`${p.mnt}/data/more.bin`, 1000); await ok(`zfs snapshot ${ds}@s2`);
  const quiet = await ok(`zfsbackup -q -E --password-file ${pw} --dataset ${ds} directory --dest ${d} --prefix Q`);
  t.equal(quiet.stderr, '', '-q: nothing on stderr');
  // verify -q: a stray file in chunks/ is a note, and -q keeps notes off stderr too
  writeFileSync(join(d, 'Q/chunks/other_data@x.1.000'), 'x');
  const vn = await ok(`zfsbackup --dataset ${ds} directory --dest ${d} --prefix Q verify`);
  t.match(vn.stderr, /note: 'chunks\/other_data@x\.1\.000' is not in the map/);
  const vq = await ok(`zfsbackup -q --dataset ${ds} directory --dest ${d} --prefix Q verify`);
  t.equal(vq.stderr, '', 'verify -q: nothing on stderr');
  t.match(vq.out, /verified 2 snapshot\(s\)/);
  // a clash of names is not something --full can cure: the message does not send the user there
  await ok(`zfs create -p ${p.name}/copy/data && zfs snapshot ${p.name}/copy/data@s1`);
  const e = await sh(`zfsbackup --dataset ${ds} zfs --dest ${p.name}/copy`);
  t.equal(e.code, 1);
  t.notMatch(e.stderr, /--full/);
  t.equal((await sh(`zfsbackup --full --dataset ${ds} zfs --dest ${p.name}/copy`)).code, 1);
});
