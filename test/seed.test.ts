// One test per option and operation the original tool's README documents
// (../shared/seed/ZFSBackup-README.txt), each through the real binaries: zfs-fuse pools,
// s3rver for the s3 method, a real sshd on loopback for ssh. The section names follow
// the README's; other files test each feature in depth, this one holds the promise that
// every line of the original's command line still does what it said.
import t from 'tap';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { ZFSBackup, ZFSBackupSSH, ZFSBackupDirectory, ZFSBackupS3, ZFSBackupCount } from '../dist/lib/index.js';
import { sh, ok, pool, fill, tmp, treeSums, ENV } from './lib/util.js';
import { s3rver, S3ENV } from './lib/s3.js';
import { sshd } from './lib/sshd.js';

process.env.PATH = ENV.PATH;

// the source: POOL (root), POOL/data with a child kid, snapshots @a and @b of all of them
const p = pool(t), P = p.name, DS = `${P}/data`;
t.before(async () => {
  await ok(`zfs create ${DS} && zfs create ${DS}/kid`);
  fill(`${p.mnt}/data/one.bin`, 400_000); fill(`${p.mnt}/data/text.txt`, 600_000, true); fill(`${p.mnt}/data/kid/k.bin`, 100_000);
  await ok(`zfs snapshot -r ${P}@a`);
  fill(`${p.mnt}/data/two.bin`, 200_000);
  await ok(`zfs snapshot -r ${P}@b`);
});
/** The files of a dataset's mount, without a child dataset's mount inside it. */
const own = (d: string) => Object.fromEntries(Object.entries(treeSums(d)).filter(([k]) => !k.startsWith('kid/')));
const listed = new RegExp(`${DS}@a\\s.*\\n${DS}@b\\s`);
const mapOf = (dir: string, prefix: string) => JSON.parse(readFileSync(join(dir, prefix, 'map.json'), 'utf8'));
const stored = (dir: string, prefix: string, ds = DS) => mapOf(dir, prefix)[ds].snapshots.map((s: any) => s.name);
const dir = (o = '') => `directory --dest ${tmp(t)} --prefix P ${o}`;

t.test('common: --dataset DS backs up DS (the latest snapshot, after a full the incrementals)', async (t) => {
  const d = tmp(t);
  await ok(`zfsbackup --dataset ${DS} directory --dest ${d} --prefix P`);
  t.same(stored(d, 'P'), ['a', 'b']);
});

t.test('common: --pool POOL is the same as --dataset POOL (the pool\'s root dataset)', async (t) => {
  const d = tmp(t);
  await ok(`zfsbackup --pool ${P} directory --dest ${d} --prefix P`);
  t.same(stored(d, 'P', P), ['a', 'b']);
});

t.test('common: --snapshot DS@SNAP backs up up to SNAP, not the latest', async (t) => {
  const d = tmp(t);
  await ok(`zfsbackup --snapshot ${DS}@a directory --dest ${d} --prefix P`);
  t.same(stored(d, 'P'), ['a']);
});

t.test('common: one of --dataset/--pool/--snapshot is required, and only one', async (t) => {
  for (const args of ['', `--dataset ${DS} --pool ${P}`]) {
    const r = await sh(`zfsbackup ${args} ${dir()}`);
    t.equal(r.code, 2, `'${args}': usage error`);
    t.match(r.stderr.split('\n')[0], /missing --dataset|give only one of/);
  }
});

t.test('common: --debug adds the stack trace to an error (without it: one line)', async (t) => {
  const plain = await sh(`zfsbackup --dataset ${P}/nothere ${dir()}`);
  const debug = await sh(`zfsbackup --debug --dataset ${P}/nothere ${dir()}`);
  t.equal(plain.code, 1); t.equal(debug.code, 1);
  t.equal(plain.stderr.trim().split('\n').length, 1, plain.stderr);
  t.match(debug.stderr, /\n\s+at /, 'a stack trace');
});

t.test('common: --verbose says what is sent', async (t) => {
  const r = await ok(`zfsbackup --verbose --dataset ${DS} ${dir()}`);
  t.match(r.stderr, new RegExp(`sending ${DS}@a \\(full\\)`));
  t.match(r.stderr, new RegExp(`sending ${DS}@b \\(incremental from a\\)`));
});

t.test('common: --operation backup|list, before or after the method, or as the last word', async (t) => {
  const d = tmp(t), m = `directory --dest ${d} --prefix P`;
  await ok(`zfsbackup --operation backup --dataset ${DS} ${m}`);
  const lists = await Promise.all([`--operation list --dataset ${DS} ${m}`, `--dataset ${DS} ${m} --operation list`, `--dataset ${DS} ${m} list`]
    .map(a => ok(`zfsbackup ${a}`)));
  t.match(lists[0].out, listed);
  t.equal(lists[1].out, lists[0].out); t.equal(lists[2].out, lists[0].out);
  const r = await sh(`zfsbackup --operation list --dataset ${DS} ${m} backup`);
  t.equal(r.code, 2, 'two operations that differ: a usage error');
});

t.test('common: --compressed/-C is gzip, --pigz is pigz; both restore', async (t) => {
  for (const [opt, alg] of [['--compressed', 'gzip'], ['-C', 'gzip'], ['-C --pigz', 'pigz']]) {
    const d = tmp(t);
    await ok(`zfsbackup ${opt} --dataset ${DS} directory --dest ${d} --prefix P`);
    t.same(mapOf(d, 'P')[DS].snapshots.map((s: any) => s.filters.map((f: any) => f.alg)), [[alg], [alg]], `${opt}: ${alg}`);
    await ok(`zfsbackup --dataset ${DS} directory --dest ${d} --prefix P restore --to ${P}/r${alg}${opt.length}`);
    t.same(own(`${p.mnt}/r${alg}${opt.length}`), own(`${p.mnt}/data`));
  }
});

t.test('common: --encrypted/-E needs --password-file; --cipher is the original\'s openssl format', async (t) => {
  const d = tmp(t), pw = join(d, 'pw');
  writeFileSync(pw, 'correct horse\n', { mode: 0o600 });
  const r = await sh(`zfsbackup -E --dataset ${DS} ${dir()}`);
  t.equal(r.code, 2); t.match(r.stderr, /encryption needs --password-file/);
  await ok(`zfsbackup --encrypted --password-file ${pw} --dataset ${DS} directory --dest ${d} --prefix A`);
  t.same(mapOf(d, 'A')[DS].snapshots[0].filters.map((f: any) => f.alg), ['age']);
  await ok(`zfsbackup -E --password-file ${pw} --cipher aes-256-cbc --dataset ${DS} directory --dest ${d} --prefix O`);
  const c = mapOf(d, 'O')[DS].snapshots[0].chunks[0].name;
  t.equal(readFileSync(join(d, 'O', 'chunks', c)).subarray(0, 8).toString(), 'Salted__', 'an openssl enc file');
  await ok(`zfsbackup -E --password-file ${pw} --cipher aes-256-cbc --dataset ${DS} directory --dest ${d} --prefix O restore --to ${P}/renc`);
  t.same(own(`${p.mnt}/renc`), own(`${p.mnt}/data`));
});

t.test('common: --recursive/-R takes the children too', async (t) => {
  const d = tmp(t);
  await ok(`zfsbackup --recursive --dataset ${DS} directory --dest ${d} --prefix P`);
  await ok(`zfsbackup -R --dataset ${DS} directory --dest ${d} --prefix P restore --to ${P}/rrec`);
  t.same(treeSums(`${p.mnt}/rrec/kid`), treeSums(`${p.mnt}/data/kid`), 'the child restored');
  await ok(`zfsbackup -R --dataset ${DS} zfs -D ${P}/zr`);
  t.ok(existsSync(`${p.mnt}/zr/data/kid/k.bin`), 'and replicated');
});

t.test('zfs method: --dest/-D, the destination dataset; list', async (t) => {
  await ok(`zfsbackup --dataset ${DS} zfs --dest ${P}/zd`);
  await ok(`zfsbackup --dataset ${DS} zfs -D ${P}/zd2`);
  for (const z of ['zd', 'zd2']) t.same(own(`${p.mnt}/${z}/data`), own(`${p.mnt}/data`), z);
  const l = await ok(`zfsbackup --dataset ${DS} zfs -D ${P}/zd list`);
  t.match(l.out, new RegExp(`${P}/zd/data@a\\s.*\\n${P}/zd/data@b\\s`));
  const r = await sh(`zfsbackup --dataset ${DS} zfs`);
  t.equal(r.code, 2, '--dest is mandatory');
});

t.test('directory method: --dest/-D and --prefix/-P (default the host name): DEST/PREFIX/chunks/', async (t) => {
  const d = tmp(t);
  await ok(`zfsbackup --dataset ${DS} directory -D ${d} -P mine`);
  t.ok(readdirSync(join(d, 'mine', 'chunks')).length >= 2, 'chunk files in DEST/PREFIX/chunks');
  t.ok(existsSync(join(d, 'mine', 'map.json')), 'the map in DEST/PREFIX');
  await ok(`zfsbackup --dataset ${DS} directory --dest ${d}`);
  t.same(stored(d, hostname()), ['a', 'b'], 'PREFIX defaults to the host name');
  const r = await sh(`zfsbackup --dataset ${DS} directory`);
  t.equal(r.code, 2, '--dest is required');
});

t.test('s3 method: --bucket --prefix --key --secret --server --region, --glacier/--no-glacier', async (t) => {
  const srv = await s3rver(t);
  const aws = (c: string) => ok(`aws --endpoint-url ${srv.url} s3api ${c}`, { env: S3ENV });
  const r = await ok(`zfsbackup --dataset ${DS} s3 --bucket seed --prefix pre --key S3RVER --secret S3RVER --server ${srv.url} --region us-east-1 --no-glacier`);
  t.match(r.stderr, /warning: --secret on a command line is shown by ps/, 'a secret in argv is warned about');
  const keys = JSON.parse((await aws('list-objects-v2 --bucket seed')).out).Contents.map((o: any) => o.Key);
  t.ok(keys.includes('pre/map.json') && keys.some((k: string) => k.startsWith('pre/chunks/')), 'PREFIX/map.json and PREFIX/chunks/ in the bucket');
  await ok(`zfsbackup --dataset ${DS} s3 --bucket seed --server ${srv.url} --no-glacier`, { env: S3ENV });
  t.ok(JSON.parse((await aws('list-objects-v2 --bucket seed')).out).Contents.some((o: any) => o.Key === `${hostname()}/map.json`), 'PREFIX defaults to the host name');
  const l = await ok(`zfsbackup --dataset ${DS} s3 --bucket seed --prefix pre --server ${srv.url} list`, { env: S3ENV });
  t.match(l.out, listed);
  // --glacier (the default): the lifecycle rule, or where the server has none (s3rver) a warning, never a failure
  const g = await ok(`zfsbackup --dataset ${DS} s3 --bucket seed --prefix gl --server ${srv.url} --glacier`, { env: S3ENV });
  const rule = await sh(`aws --endpoint-url ${srv.url} s3api get-bucket-lifecycle-configuration --bucket seed`, { env: S3ENV });
  t.ok(rule.code === 0 ? /gl\//.test(rule.out) : /warning: .*lifecycle/i.test(g.stderr), `rule set (${rule.code}) or a warning: ${g.stderr.trim()}`);
  const bad = await sh(`zfsbackup --dataset ${DS} s3 --bucket seed --server ${srv.url} --no-glacier`, { env: { ...S3ENV, AWS_ACCESS_KEY_ID: 'WRONG' } });
  t.equal(bad.code, 1, 'a wrong key: exit 1 (s3rver checks the key, not the secret; Ceph both: ceph.test.ts)');
  t.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
});

t.test('ssh method: --dest/-D, --host/-H, --user/-U (default: the current user)', async (t) => {
  const s = await sshd(t); s.known();
  const q = pool(t);
  await ok(`zfsbackup --dataset ${DS} ssh --dest ${q.name}/a --host ${s.alias}`, { env: s.env });
  await ok(`zfsbackup --dataset ${DS} ssh -D ${q.name}/b -H 127.0.0.1 --port ${s.port} -U root`, { env: s.env });
  t.equal(userInfo().username, 'root', 'the tests run as root');
  await ok(`zfsbackup --dataset ${DS} ssh --dest ${q.name}/c --host 127.0.0.1 --port ${s.port}`, { env: s.env });
  for (const x of ['a', 'b', 'c']) t.same(own(`${q.mnt}/${x}/data`), own(`${p.mnt}/data`), `${x}: replicated`);
  // and back (not in the seed: its restore was "not yet implemented"), telling it as --json events
  const back = await ok(`zfsbackup --json --dataset ${DS} ssh --dest ${q.name}/a --host ${s.alias} restore --to ${P}/fromssh`, { env: s.env });
  const ev = back.out.trim().split('\n').map(l => JSON.parse(l)).filter(e => e.event !== 'progress');
  t.same(ev.map(e => [e.event, e.snapshot]), [['snapshot', `${q.name}/a/data@a`], ['done', `${q.name}/a/data@a`], ['snapshot', `${q.name}/a/data@b`], ['done', `${q.name}/a/data@b`]], 'restore events');
  t.same(own(`${p.mnt}/fromssh`), own(`${p.mnt}/data`), 'restored from the remote copy');
  const r = await sh(`zfsbackup --dataset ${DS} ssh --dest ${q.name}/d --host 127.0.0.1 --port ${s.port} --user nosuchuser`, { env: s.env });
  t.equal(r.code, 1, 'a user the key is not for: exit 1'); t.match(r.stderr, /zfsbackup: .*nosuchuser|authenticat/);
});

t.test('API: ZFSBackup(pool, dest, { recursive }) and backup(snapname, { forceFull }), as in the seed', async (t) => {
  const tp = pool(t), bk = pool(t), tank = `${tp.name}/tank`, mnt = `${tp.mnt}/tank`;   // a pool's root would carry its local mountpoint
  await ok(`zfs create ${tank} && zfs create ${tank}/kid`);
  fill(`${mnt}/kid/k.bin`, 100_000); await ok(`zfs snapshot -r ${tank}@a`);
  fill(`${mnt}/kid/l.bin`, 100_000); await ok(`zfs snapshot -r ${tank}@b`);
  const b = new ZFSBackup(tank, `${bk.name}/BackupPool`, { recursive: true });   // the seed: ZFSBackup("tank", "BackupPool/tank", recursive=True)
  t.same((await b.backup('a')).map(s => s.snapshot.snap), ['a'], 'backup(snapname)');
  t.same((await b.backup()).map(s => s.snapshot.snap), ['b'], 'then an incremental to the latest');
  t.same(treeSums(`${bk.mnt}/BackupPool/tank/kid`), treeSums(`${mnt}/kid`), 'recursively');
  await t.rejects(b.backup(undefined, { forceFull: true }), { message: /has snapshots; a full stream would need them destroyed/ }, 'force_full over a copy is refused, not destroying');
  const d = tmp(t), cls = [new ZFSBackupDirectory(DS, d), new ZFSBackupCount(DS), new ZFSBackupS3(DS, { bucket: 'x' }),
    new ZFSBackupSSH(DS, `${P}/x`, { host: 'nas' })];
  t.same(cls.map(c => typeof c.backup), ['function', 'function', 'function', 'function'], 'the other classes of the seed');
  t.ok((await new ZFSBackupCount(DS).count()).bytes > 1_000_000, 'ZFSBackupCount counts the bytes');
});
