// The zfs method end to end on zfs-fuse: full, incremental by guid, failures named.
import t from 'tap';
import { spawn } from 'node:child_process';
import { writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { sh, ok, pool, treeSums, fill, tmp, ENV, ROOT } from './lib/util.js';

const snaps = async (ds: string) => (await ok(`zb-list -H ${ds}`)).out.trim().split('\n').filter(Boolean).map(l => l.split('\t'));

t.test('full copy of 3 snapshots, then only the 2 new ones; files identical', async (t) => {
  const p = pool(t), q = pool(t);
  await ok(`zfs create ${p.name}/data`);
  fill(`${p.mnt}/data/a.bin`, 3 << 20);
  fill(`${p.mnt}/data/dir/b.txt`, 1 << 20, true);
  for (const s of ['s1', 's2', 's3']) { fill(`${p.mnt}/data/${s}.bin`, 100_000); await ok(`zfs snapshot ${p.name}/data@${s}`); }
  const r1 = await ok(`zfsbackup -v --dataset ${p.name}/data zfs --dest ${q.name}/copy`);
  t.match(r1.stderr, /s1 \(full\)/);
  t.same((await snaps(`${q.name}/copy/data`)).map(s => s[0].split('@')[1]), ['s1', 's2', 's3']);
  t.same((await snaps(`${q.name}/copy/data`)).map(s => s[1]), (await snaps(`${p.name}/data`)).map(s => s[1]), 'same guids');
  t.same(treeSums(`${q.mnt}/copy/data`), treeSums(`${p.mnt}/data`));
  fill(`${p.mnt}/data/s4.bin`, 200_000); await ok(`zfs snapshot ${p.name}/data@s4`);
  fill(`${p.mnt}/data/a.bin`, 1 << 20); await ok(`zfs snapshot ${p.name}/data@s5`);
  const r2 = await ok(`zfsbackup -v --dataset ${p.name}/data zfs --dest ${q.name}/copy`);
  const sent = r2.stderr.split('\n').filter(l => l.includes('sending'));
  t.equal(sent.length, 2, 'two sends');
  t.match(sent[0], /s4 \(incremental from s3\)/);
  t.match(sent[1], /s5 \(incremental from s4\)/);
  t.same(treeSums(`${q.mnt}/copy/data`), treeSums(`${p.mnt}/data`));
  const r3 = await ok(`zfsbackup -v --dataset ${p.name}/data zfs --dest ${q.name}/copy`);
  t.match(r3.stderr, /up to date/);
  const l = await ok(`zfsbackup --dataset ${p.name}/data zfs --dest ${q.name}/copy list`);
  t.match(l.out, new RegExp(`${q.name}/copy/data@s5`));
});

t.test('--dataset POOL writes DEST itself; --no-iterate-incrementals sends one -I', async (t) => {
  const p = pool(t), q = pool(t);
  fill(`${p.mnt}/f`, 50_000);
  await ok(`zfs snapshot ${p.name}@a`);
  await ok(`zfsbackup --pool ${p.name} zfs --dest ${q.name}/tank`);
  t.same((await snaps(`${q.name}/tank`)).map(s => s[0]), [`${q.name}/tank@a`]);
  for (const s of ['b', 'c', 'd']) await ok(`zfs snapshot ${p.name}@${s}`);
  const r = await ok(`zfsbackup -v --no-iterate-incrementals --dataset ${p.name} zfs --dest ${q.name}/tank`);
  t.match(r.stderr, /d \(incremental from a, with intermediates\)/);
  t.same((await snaps(`${q.name}/tank`)).map(s => s[0].split('@')[1]), ['a', 'b', 'c', 'd']);
});

t.test('a target snapshot with the same name but another guid is never a base', async (t) => {
  const p = pool(t), q = pool(t);
  await ok(`zfs create ${p.name}/data && zfs snapshot ${p.name}/data@a && zfs snapshot ${p.name}/data@b`);
  await ok(`zfs create -p ${q.name}/copy/data && zfs snapshot ${q.name}/copy/data@a`);
  const r = await sh(`zfsbackup --dataset ${p.name}/data zfs --dest ${q.name}/copy`);
  t.equal(r.code, 1);
  t.match(r.stderr, /^zfsbackup: target '.*\/copy\/data' has snapshot 'a' with the source's name but another guid/);
  t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  t.same((await snaps(`${q.name}/copy/data`)).map(s => s[0].split('@')[1]), ['a'], 'target untouched');
  const f = await sh(`zfsbackup --full --dataset ${p.name}/data zfs --dest ${q.name}/copy`);
  t.equal(f.code, 1, '--full never destroys target snapshots');
  t.match(f.stderr, /^zfsbackup: target '.*\/copy\/data' has snapshots; a full stream would need them destroyed, which zfsbackup leaves to you/);
  t.same((await snaps(`${q.name}/copy/data`)).map(s => s[0].split('@')[1]), ['a'], 'target untouched by --full');
  await ok(`zfsbackup --full --dataset ${p.name}/data zfs --dest ${q.name}/fresh`);
  t.same((await snaps(`${q.name}/fresh/data`)).map(s => s[1]), (await snaps(`${p.name}/data`)).slice(-1).map(s => s[1]), '--full: one full stream of the latest snapshot, with its guid');
  const ff = await sh(`zfsbackup --full --force --dataset ${p.name}/data zfs --dest ${q.name}/copy`);
  t.equal(ff.code, 1, '--force does not make zfsbackup destroy snapshots for a full stream');
  t.same((await snaps(`${q.name}/copy/data`)).map(s => s[0].split('@')[1]), ['a'], 'target untouched by --full --force');
});

t.test('-R: every child arrives with its snapshots', async (t) => {
  const p = pool(t), q = pool(t);
  await ok(`zfs create ${p.name}/data && zfs create ${p.name}/data/c1 && zfs create ${p.name}/data/c2`);
  fill(`${p.mnt}/data/c1/x`, 300_000); fill(`${p.mnt}/data/c2/y`, 300_000, true);
  await ok(`zfs snapshot -r ${p.name}/data@r1`);
  fill(`${p.mnt}/data/c2/z`, 100_000);
  await ok(`zfs snapshot -r ${p.name}/data@r2`);
  await ok(`zfsbackup -R --dataset ${p.name}/data zfs --dest ${q.name}/copy`);
  for (const c of ['', '/c1', '/c2'])
    t.same((await snaps(`${q.name}/copy/data${c}`)).map(s => s[0].split('@')[1]), ['r1', 'r2'], `data${c}`);
  t.same(treeSums(`${q.mnt}/copy/data`), treeSums(`${p.mnt}/data`));
});

t.test('zb-send killed mid-stream: zfsbackup names zb-send, target gets no new snapshot', async (t) => {
  const p = pool(t), q = pool(t), d = tmp(t);
  await ok(`zfs create ${p.name}/data`);
  fill(`${p.mnt}/data/a`, 100_000);
  await ok(`zfs snapshot ${p.name}/data@a`);
  await ok(`zfsbackup --dataset ${p.name}/data zfs --dest ${q.name}/copy`);
  fill(`${p.mnt}/data/big`, 8 << 20);
  await ok(`zfs snapshot ${p.name}/data@b`);
  // the real zfs, with receive slowed down so that there is time to kill zb-send
  const slow = join(d, 'zfs');
  writeFileSync(slow, `#!/bin/sh\nif [ "$1" = receive ]; then pv -q -L 1m | /usr/sbin/zfs "$@"; else exec /usr/sbin/zfs "$@"; fi\n`);
  chmodSync(slow, 0o755);
  const c = spawn('zfsbackup', ['--dataset', `${p.name}/data`, 'zfs', '--dest', `${q.name}/copy`],
    { env: { ...ENV, ZB_ZFS: slow }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  c.stderr.on('data', (b) => err += b);
  const exit = new Promise<number>(r => c.on('close', (code) => r(code ?? -1)));
  let killed = false;
  for (let i = 0; i < 100 && !killed; i++) {
    await new Promise(r => setTimeout(r, 100));
    const pg = await sh(`pgrep -f '[z]b-send(\\.js)? -i ${p.name}/data@a ${p.name}/data@b'`);   // [z]: not this shell
    if (pg.code === 0) { await sh(`sleep 0.5; kill -9 ${pg.out.trim().split('\n')[0]}`); killed = true; }
  }
  t.ok(killed, 'found zb-send to kill');
  t.equal(await exit, 137, 'exit status 128+9');
  t.match(err, /zfsbackup: zb-send \(stage 1 of 2\) failed: killed by SIGKILL/);
  t.same((await snaps(`${q.name}/copy/data`)).map(s => s[0].split('@')[1]), ['a'], 'no snapshot b on the target');
  await ok(`zfsbackup --dataset ${p.name}/data zfs --dest ${q.name}/copy`);
  t.same(treeSums(`${q.mnt}/copy/data`), treeSums(`${p.mnt}/data`), 'the next run completes');
});

t.test('bad input: one line and exit 1 or 2', async (t) => {
  const p = pool(t);
  await ok(`zfs create ${p.name}/data && zfs snapshot ${p.name}/data@a`);
  const cases: [string, number, RegExp][] = [
    [`zfsbackup --dataset ${p.name}/nope zfs --dest ${p.name}/x`, 1, /^zfsbackup: dataset '.*\/nope' does not exist\n$/],
    [`zfsbackup --snapshot ${p.name}/data@zz zfs --dest ${p.name}/x`, 1, /^zfsbackup: snapshot '.*\/data@zz' does not exist\n$/],
    [`zfsbackup --bogus --dataset ${p.name}/data zfs --dest ${p.name}/x`, 2, /^zfsbackup: unrecognized option '--bogus'\nTry 'zfsbackup --help'/],
    [`zfsbackup --dataset ${p.name}/data zfs`, 2, /^zfsbackup: the zfs method needs --dest/],
    [`zfsbackup --dataset ${p.name}/data zfs --dest x restore`, 2, /no operation 'restore'/],
    [`zfsbackup --dataset ${p.name}/data`, 2, /missing METHOD/],
  ];
  for (const [cmd, code, re] of cases) {
    const r = await sh(cmd);
    t.equal(r.code, code, cmd);
    t.match(r.stderr, re, cmd);
  }
});

t.test("from cron: PATH=/usr/bin:/bin has no zfs, yet it is found in sbin; ZB_ZFS names a missing one", async (t) => {
  const p = pool(t), q = pool(t);
  fill(`${p.mnt}/f`, 100_000);
  await ok(`zfs snapshot ${p.name}@a`);
  const cron = `env -i PATH=/usr/bin:/bin HOME=/root`;
  const bin = join(ROOT, 'dist', 'bin');
  t.not((await sh(`${cron} sh -c 'command -v zfs'`)).code, 0, 'zfs is not on cron\'s PATH here');
  await ok(`${cron} ${bin}/zfsbackup --pool ${p.name} zfs --dest ${q.name}/tank`);
  t.same(treeSums(`${q.mnt}/tank`), treeSums(p.mnt));
  t.match((await ok(`${cron} ${bin}/zb-list -H ${q.name}/tank`)).out, `${q.name}/tank@a`);
  const r = await sh(`${cron} ZB_ZFS=/nonexistent/zfs ${bin}/zb-list ${q.name}/tank`);
  t.equal(r.code, 1);
  t.equal(r.stderr, "zb-list: '/nonexistent/zfs' (ZB_ZFS) not found\n");
});

t.test('-R --hold: the children\'s snapshots are held with the tag too (a held one cannot be destroyed), released after the next run', async (t) => {
  const p = pool(t), q = pool(t), ds = `${p.name}/data`;
  // zfs-fuse's zfs holds needs a pyzfs it lacks: the count of holds, and zfs release of a tag
  const refs = async (snap: string) => Number((await ok(`zfs get -Hp -o value userrefs ${snap}`)).out.trim());
  await ok(`zfs create ${ds} && zfs create ${ds}/c1 && zfs create ${ds}/c1/g`);
  fill(`${p.mnt}/data/c1/x`, 200_000); fill(`${p.mnt}/data/c1/g/y`, 100_000);
  await ok(`zfs snapshot -r ${ds}@r1`);
  const r1 = await ok(`zfsbackup -v -R --hold --dataset ${ds} zfs --dest ${q.name}/copy`);
  const tag = /held .*@r1 \(zfs hold (zfsbackup-[0-9a-f]{12})\)/.exec(r1.stderr)?.[1];
  t.ok(tag, `the hold is said: ${r1.stderr}`);
  for (const c of ['', '/c1', '/c1/g']) t.equal(await refs(`${ds}${c}@r1`), 1, `data${c}@r1 held`);
  const d = await sh(`zfs destroy ${ds}/c1/g@r1`);
  t.not(d.code, 0, 'a held child snapshot cannot be destroyed');
  t.ok((await sh(`zfs list -H -o name ${ds}/c1/g@r1`)).code === 0, 'and is still there');
  // a child made after r1 has no r1: releasing r1's tag recursively must not trip on it
  await ok(`zfs create ${ds}/c2`); fill(`${p.mnt}/data/c2/z`, 100_000);
  await ok(`zfs snapshot -r ${ds}@r2`);
  await ok(`zfsbackup -R --hold --dataset ${ds} zfs --dest ${q.name}/copy`);
  for (const c of ['', '/c1', '/c1/g', '/c2']) t.equal(await refs(`${ds}${c}@r2`), 1, `data${c}@r2 held`);
  for (const c of ['', '/c1', '/c1/g']) t.equal(await refs(`${ds}${c}@r1`), 0, `data${c}@r1 released`);
  await ok(`zfs destroy -r ${ds}@r1`);
  t.same(treeSums(`${q.mnt}/copy/data`), treeSums(`${p.mnt}/data`), 'the copy is whole');
  await ok(`zfs release -r ${tag} ${ds}@r2`);
});
