// The ssh method and zb-recv-ssh against a real OpenSSH sshd on 127.0.0.1 (test/lib/sshd.ts:
// its own host key, authorized key, config and port); the local zfs-fuse pools are the
// remote's. Replication full and incremental (files and guids), -R, -C, restore, list.
import t from 'tap';
import { mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { sh, ok, pool, treeSums, fill } from './lib/util.js';
import { sshd } from './lib/sshd.js';

const rows = async (ds: string, env: Record<string, string>, extra = '') =>
  (await ok(`zb-list -H ${extra} ${ds}`, { env })).out.trim().split('\n').filter(Boolean).map(l => l.split('\t'));

t.test('full, then incremental (-n first: printed, the run ends), to a remote pool through a Host alias of ~/.ssh/config: files and guids match', async (t) => {
  const s = await sshd(t); s.known();
  const p = pool(t), q = pool(t);
  await ok(`zfs create ${p.name}/data`);
  fill(`${p.mnt}/data/a.bin`, 2 << 20); fill(`${p.mnt}/data/d/b.txt`, 1 << 20, true);
  await ok(`zfs snapshot ${p.name}/data@s1`);
  fill(`${p.mnt}/data/c.bin`, 300_000); await ok(`zfs snapshot ${p.name}/data@s2`);
  const r1 = await ok(`zfsbackup -v --dataset ${p.name}/data ssh --dest ${q.name}/bk --host ${s.alias}`, { env: s.env });
  t.match(r1.stderr, /s1 \(full\) to .*bk\/data/);
  t.same(treeSums(`${q.mnt}/bk/data`), treeSums(`${p.mnt}/data`), 'files match');
  fill(`${p.mnt}/data/a.bin`, 500_000); await ok(`zfs snapshot ${p.name}/data@s3`);
  // -n asks the remote, prints, and ends (the connection closed), sending nothing
  const n = await sh(`timeout 60 zfsbackup -n --dataset ${p.name}/data ssh --dest ${q.name}/bk --host ${s.alias}`, { env: s.env });
  t.equal(n.code, 0, `-n ended by itself: ${n.stderr}`);
  t.equal(n.out, `# ${p.name}/data@s3: incremental from ${p.name}/data@s2\nzb-send -i ${p.name}/data@s2 ${p.name}/data@s3 | zb-recv-ssh --host ${s.alias} ${q.name}/bk/data\n`);
  const r2 = await ok(`zfsbackup -v --dataset ${p.name}/data ssh -D ${q.name}/bk -H 127.0.0.1 --port ${s.port} -U root`, { env: s.env });
  t.equal(r2.stderr.split('\n').filter(l => /sending/.test(l)).length, 1, 'one incremental');
  t.match(r2.stderr, /s3 \(incremental from s2\)/);
  t.same(treeSums(`${q.mnt}/bk/data`), treeSums(`${p.mnt}/data`), 'files match after the incremental');
  const remote = await rows(`${q.name}/bk/data`, s.env, `--host ${s.alias}`);
  t.same(remote.map(r => r[1]), (await rows(`${p.name}/data`, s.env)).map(r => r[1]), 'zb-list --host: the same guids');
  t.same(remote.map(r => r[0].split('@')[1]), ['s1', 's2', 's3']);
  const l = await ok(`zfsbackup --dataset ${p.name}/data ssh --dest ${q.name}/bk --host ${s.alias} list`, { env: s.env });
  t.match(l.out, new RegExp(`${q.name}/bk/data@s3`));
  const r3 = await ok(`echo pw > ${p.dir}/pw; zfsbackup -v -E --password-file ${p.dir}/pw --dataset ${p.name}/data ssh --dest ${q.name}/bk --host ${s.alias}`, { env: s.env });
  t.match(r3.stderr, /up to date/);
  const st = await ok(`zfsbackup --dataset ${p.name}/data ssh --dest ${q.name}/bk --host ${s.alias} status`, { env: s.env });
  t.match(st.out, /^OK\b.*s3/, `status: ${st.out.trim()}`);
  t.match(r3.stderr, /warning: --encrypted does nothing for the ssh method \(ssh encrypts the connection; nothing is stored encrypted\)/);
});

t.test('-R replicates the children; zb-recv-ssh by hand with -i and --port', async (t) => {
  const s = await sshd(t); s.known();
  const p = pool(t), q = pool(t);
  await ok(`zfs create ${p.name}/data && zfs create ${p.name}/data/kid`);
  fill(`${p.mnt}/data/x`, 200_000); fill(`${p.mnt}/data/kid/y`, 300_000);
  await ok(`zfs snapshot -r ${p.name}/data@r1`);
  await ok(`zfsbackup -R --dataset ${p.name}/data ssh --dest ${q.name}/bk --host ${s.alias}`, { env: s.env });
  t.same(treeSums(`${q.mnt}/bk/data/kid`), treeSums(`${p.mnt}/data/kid`));
  t.same((await rows(`${q.name}/bk/data/kid`, s.env)).map(r => r[1]), (await rows(`${p.name}/data/kid`, s.env)).map(r => r[1]));
  await ok(`zb-send ${p.name}/data/kid@r1 | zb-recv-ssh --host 127.0.0.1 --port ${s.port} --user root -i ${s.home}/.ssh/id_ed25519 ${q.name}/byhand`, { env: s.env });
  t.same(treeSums(`${q.mnt}/byhand`), treeSums(`${p.mnt}/data/kid`));
  // a plain zfs send stream, through a 64 KiB pipe that zb-recv-ssh enlarges (F_GETPIPE_SZ,
  // 1032, asked by the writer at the end): read 64 KiB at a time, it went at 0.76 of the rate
  await ok(`zfs create ${p.name}/solo`); fill(`${p.mnt}/solo/z`, 3 << 20, true); await ok(`zfs snapshot ${p.name}/solo@r2`);
  const size = join(s.dir, 'pipe-size');
  const copy = `perl -e 'while (sysread(STDIN, my $b, 65536)) { syswrite(STDOUT, $b) } open(my $f, ">", $ARGV[0]); print $f fcntl(STDOUT, 1032, 0)' ${size}`;
  await ok(`zfs send ${p.name}/solo@r2 | ${copy} | zb-recv-ssh --host ${s.alias} ${q.name}/plain`, { env: s.env });
  t.same(treeSums(`${q.mnt}/plain`), treeSums(`${p.mnt}/solo`), 'a plain zfs stream received');
  t.equal(readFileSync(size, 'utf8'), '1048576', 'its stdin pipe was enlarged to 1 MiB');
});

t.test('-C: compressed here, decompressed by the remote zstd; without it there, a warning and uncompressed', async (t) => {
  const s = await sshd(t); s.known();
  const p = pool(t), q = pool(t);
  fill(`${p.mnt}/t.txt`, 3 << 20, true);
  await ok(`zfs snapshot ${p.name}@c1`);
  const r = await ok(`zfsbackup -v -C --compress zstd --pool ${p.name} ssh --dest ${q.name}/z --host ${s.alias}`, { env: s.env });
  const m = /Compressed (\d+) to (\d+) bytes/.exec(r.stderr);
  t.ok(m && Number(m[2]) < Number(m[1]) / 4, `compressed on the wire: ${m?.[0]}`);
  t.same(treeSums(`${q.mnt}/z`), treeSums(p.mnt));
  // a remote whose PATH has no zstd (and no zfs: it is found in /usr/sbin)
  const bin = join(s.dir, 'bin'); mkdirSync(bin);
  for (const f of readdirSync('/usr/bin')) if (!/^zstd|^unzstd|^zfs/.test(f)) symlinkSync(`/usr/bin/${f}`, join(bin, f));
  const bare = await sshd(t, [`SetEnv PATH=${bin}`]); bare.known();
  const r2 = await ok(`zfsbackup -v -C --compress zstd --pool ${p.name} ssh --dest ${q.name}/u --host 127.0.0.1 --port ${bare.port} --user root`, { env: bare.env });
  t.match(r2.stderr, /warning: '127\.0\.0\.1' has no zstd to decompress with: sending uncompressed/);
  t.notMatch(r2.stderr, /Compressed/);
  t.same(treeSums(`${q.mnt}/u`), treeSums(p.mnt));
  const r3 = await sh(`zb-send ${p.name}@c1 | zb-compress --zstd | zb-recv-ssh --host 127.0.0.1 --port ${bare.port} ${q.name}/v`, { env: bare.env });
  t.equal(r3.code, 1);
  t.match(r3.stderr, /zb-recv-ssh: stream is compressed \(zstd\) and '127\.0\.0\.1' has no zstd to decompress it: put 'zb-compress -d' before zb-recv-ssh/);
  t.equal((await sh(`zfs list ${q.name}/v`)).code, 1, 'nothing received');
});

t.test('restore pulls the remote chain into a fresh local dataset, identical; again: continued, nothing to do', async (t) => {
  const s = await sshd(t); s.known();
  const p = pool(t), q = pool(t);
  await ok(`zfs create ${p.name}/data`);
  fill(`${p.mnt}/data/a`, 1 << 20); await ok(`zfs snapshot ${p.name}/data@s1`);
  fill(`${p.mnt}/data/b`, 500_000); await ok(`zfs snapshot ${p.name}/data@s2`);
  await ok(`zfsbackup --dataset ${p.name}/data ssh --dest ${q.name}/bk --host ${s.alias}`, { env: s.env });
  const r = await ok(`zfsbackup -v --dataset ${p.name}/data ssh --dest ${q.name}/bk --host ${s.alias} restore --to ${p.name}/back`, { env: s.env });
  t.match(r.stderr, /2 snapshot\(s\) received into/);
  t.same(treeSums(`${p.mnt}/back`), treeSums(`${p.mnt}/data`));
  t.same((await rows(`${p.name}/back`, s.env)).map(r => r[1]), (await rows(`${p.name}/data`, s.env)).map(r => r[1]), 'same guids');
  const again = await ok(`zfsbackup -v --dataset ${p.name}/data ssh --dest ${q.name}/bk --host ${s.alias} restore --to ${p.name}/back`, { env: s.env });
  t.match(again.stderr, /up to date/);
  await ok(`zfsbackup --dataset ${p.name}/data ssh --dest ${q.name}/bk --host ${s.alias} restore --to ${p.name}/one --snapshot s1`, { env: s.env });
  t.same((await rows(`${p.name}/one`, s.env)).map(r => r[0].split('@')[1]), ['s1']);
  t.equal(readFileSync(`${p.mnt}/one/a`).length, 1 << 20);
});

t.test('--hold: the source snapshot each copy ends with is held (a tag per target), the one before released; zfs and ssh methods', async (t) => {
  const s = await sshd(t); s.known();
  const p = pool(t), q = pool(t);
  // zfs-fuse's zfs holds needs a pyzfs it lacks: the count of holds, and zfs release of a tag
  const refs = async (snap: string) => Number((await ok(`zfs get -Hp -o value userrefs ${snap}`)).out.trim());
  fill(`${p.mnt}/f`, 100_000); await ok(`zfs snapshot ${p.name}@a`);
  const r1 = await ok(`zfsbackup -v --hold --pool ${p.name} ssh --dest ${q.name}/r --host ${s.alias}`, { env: s.env });
  const tr = /zfs hold (zfsbackup-[0-9a-f]{12})\)/.exec(r1.stderr)![1];
  const r2 = await ok(`zfsbackup -v --hold --pool ${p.name} zfs --dest ${q.name}/l`, { env: s.env });
  const tl = /zfs hold (zfsbackup-[0-9a-f]{12})\)/.exec(r2.stderr)![1];
  t.not(tr, tl, 'a tag per target');
  t.equal(await refs(`${p.name}@a`), 2, 'two targets, two holds');
  t.not((await sh(`zfs destroy ${p.name}@a`)).code, 0, 'a held snapshot cannot be destroyed');
  fill(`${p.mnt}/g`, 100_000); await ok(`zfs snapshot ${p.name}@b`);
  await ok(`zfsbackup --hold --pool ${p.name} ssh --dest ${q.name}/r --host ${s.alias}`, { env: s.env });
  t.equal(await refs(`${p.name}@b`), 1, 'b held for the ssh target');
  t.equal(await refs(`${p.name}@a`), 1, 'a released by the ssh target, still held for the zfs one');
  t.not((await sh(`zfs release ${tr} ${p.name}@a`)).code, 0, 'not by the ssh target\'s tag');
  await ok(`zfsbackup --hold --pool ${p.name} zfs --dest ${q.name}/l`, { env: s.env });
  t.equal(await refs(`${p.name}@a`), 0, 'a released by both');
  await ok(`zfs destroy ${p.name}@a`);
  await ok(`zfs release ${tr} ${p.name}@b && zfs release ${tl} ${p.name}@b`);
});
