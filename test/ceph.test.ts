// The S3 store against a real Ceph radosgw (Pacific, single node, test/ceph-rgw.sh): the
// lifecycle rules set, read back, scoped to the prefix, merged with a foreign rule and
// removed by --no-glacier; RGW's EntityTooSmall is real and never met; a backup + restore
// round trip on zfs-fuse; two writers at once (RGW honours If-None-Match / If-Match).
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand, GetBucketLifecycleConfigurationCommand, ListMultipartUploadsCommand, ListObjectsV2Command,
  PutBucketLifecycleConfigurationCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { sh, ok, pool, fill, tmp, treeSums, ROOT, ENV } from './lib/util.js';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

// started twice at most (a fresh cluster on other ports), each bounded: a Ceph that does
// not come up fails this file with the script's line, never hangs it
const C = mkdtempSync(join(tmpdir(), 'zbt-ceph-')), rgw = (...a: string[]) => execFileSync('bash', [join(ROOT, 'test/ceph-rgw.sh'), ...a], { encoding: 'utf8', timeout: 140_000 });
t.teardown(() => { rgw('stop', C); rmSync(C, { recursive: true, force: true }); });   // stopped before its dir (the pid files) goes
let url = '';
for (let i = 0; !url; i++) {
  const port = 40000 + Math.floor(Math.random() * 10000);
  try { url = rgw('start', C, String(port), String(port + 1)).trim(); } catch (e) { rgw('stop', C); if (i) throw e; }
}
const env = { AWS_ACCESS_KEY_ID: 'TESTAK', AWS_SECRET_ACCESS_KEY: 'TESTSECRET', AWS_REGION: 'us-east-1' };
// set-up and read-back through the SDK directly
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const c = new S3Client({ region: 'us-east-1', endpoint: url, forcePathStyle: true, credentials: { accessKeyId: 'TESTAK', secretAccessKey: 'TESTSECRET' },
  requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
const rules = async (b: string) => (await c.send(new GetBucketLifecycleConfigurationCommand({ Bucket: b }))).Rules ?? [];
const put = (b: string, p: string, f: string, extra = '') => `zb-chunk-s3 --bucket ${b} --prefix ${p} --server ${url} --dataset tank/d --snapshot s${Math.random().toString(36).slice(2, 8)} --chunk-size 12M --part-size 5M ${extra} < ${f}`;

t.test('lifecycle: our rules scoped to the prefix, a foreign rule kept, --no-glacier removes only ours', async (t) => {
  const d = tmp(t), f = join(d, 'in');
  fill(f, 1000);
  await c.send(new CreateBucketCommand({ Bucket: 'lcy' }));
  await c.send(new PutBucketLifecycleConfigurationCommand({ Bucket: 'lcy', LifecycleConfiguration: { Rules: [{ ID: 'theirs', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Expiration: { Days: 30 } }] } }));
  await ok(put('lcy', 'hostA', f), { env });
  await ok(put('lcy', 'hostB', f, '--glacier-days 3'), { env });
  const r = await rules('lcy'), byId = Object.fromEntries(r.map((x: any) => [x.ID, x]));
  t.same(Object.keys(byId).sort(), ['theirs', 'zfsbackup-glacier hostA', 'zfsbackup-glacier hostB', 'zfsbackup-multipart hostA', 'zfsbackup-multipart hostB']);
  t.same(byId['zfsbackup-glacier hostA'].Filter, { Prefix: 'hostA/chunks/' }, 'scoped to this prefix\'s chunks');
  t.same(byId['zfsbackup-glacier hostB'].Transitions, [{ Days: 3, StorageClass: 'GLACIER' }]);
  t.same(byId['zfsbackup-multipart hostA'].AbortIncompleteMultipartUpload, { DaysAfterInitiation: 7 });
  t.same(byId.theirs.Expiration, { Days: 30 }, 'the foreign rule is kept');
  await ok(put('lcy', 'hostA', f, '--no-glacier'), { env });
  t.same((await rules('lcy')).map((x) => x.ID).sort(), ['theirs', 'zfsbackup-glacier hostB', 'zfsbackup-multipart hostA', 'zfsbackup-multipart hostB'], 'only hostA\'s transition rule gone');
});

t.test('RGW refuses a part under 5 MiB (EntityTooSmall); chunks of 5M parts are never refused', async (t) => {
  const d = tmp(t);
  await c.send(new CreateBucketCommand({ Bucket: 'small' }));
  const id = (await c.send(new CreateMultipartUploadCommand({ Bucket: 'small', Key: 'x' }))).UploadId;
  const Parts = [];
  for (const n of [1, 2]) Parts.push({ PartNumber: n, ETag: (await c.send(new UploadPartCommand({ Bucket: 'small', Key: 'x', UploadId: id, PartNumber: n, Body: randomBytes(1 << 20) }))).ETag });
  await t.rejects(c.send(new CompleteMultipartUploadCommand({ Bucket: 'small', Key: 'x', UploadId: id, MultipartUpload: { Parts } })), { name: 'EntityTooSmall' }, 'the server enforces it');
  fill(join(d, 'in'), 30 << 20);
  await ok(put('small', 'p', join(d, 'in')), { env });
  t.match((await ok(`zb-chunk-s3 --verify --bucket small --prefix p --server ${url}`, { env })).out, /verified 1 snapshot\(s\), 3 chunk\(s\), 31457280 bytes/);
});

t.test('backup and restore round trip on zfs-fuse through RGW; two writers at once both land', async (t) => {
  const p = pool(t), ds = `${p.name}/data`;
  await ok(`zfs create ${ds}`);
  fill(`${p.mnt}/data/a.bin`, 7 << 20); await ok(`zfs snapshot ${ds}@s1`);
  fill(`${p.mnt}/data/b.bin`, 1 << 20); await ok(`zfs snapshot ${ds}@s2`);
  const m = `s3 --bucket rtp --server ${url} --prefix P`;
  await ok(`zfsbackup --dataset ${ds} ${m} --chunk-size 6M --part-size 5M`, { env });
  await ok(`zfsbackup --dataset ${ds} ${m} restore --to ${p.name}/back`, { env });
  t.same(treeSums(`${p.mnt}/back`), treeSums(`${p.mnt}/data`), 'files identical');
  const d = tmp(t);
  fill(join(d, 'a'), 6 << 20); fill(join(d, 'b'), 6 << 20);
  const [a, b] = await Promise.all([sh(put('rtp', 'two', join(d, 'a')), { env }), sh(put('rtp', 'two', join(d, 'b')), { env })]);
  t.same([a.code, b.code], [0, 0], a.stderr + b.stderr);
  t.match((await ok(`zb-chunk-s3 --verify --bucket rtp --prefix two --server ${url}`, { env })).out, /verified 2 snapshot\(s\)/);
});

t.test('zb-chunk-s3 killed by SIGKILL mid-upload (no abort runs): the next run aborts its multipart upload and deletes its chunks', async (t) => {
  const d = tmp(t), f = join(d, 'in');
  fill(f, 12 << 20);
  await c.send(new CreateBucketCommand({ Bucket: 'kil' }));
  const child = spawn('bash', ['-c', `(head -c 9M ${f}; sleep 30) | exec ${put('kil', 'p', '/dev/stdin')}`], { env: { ...ENV, ...env, NODE_OPTIONS: '' }, stdio: 'ignore' });
  const uploads = async () => (await c.send(new ListMultipartUploadsCommand({ Bucket: 'kil', Prefix: 'p/chunks/' }))).Uploads ?? [];
  for (let i = 0; i < 100 && !(await uploads()).length; i++) await new Promise(r => setTimeout(r, 100));
  t.equal((await uploads()).length, 1, 'an upload in flight');
  await new Promise(r => setTimeout(r, 1500));
  await sh(`pkill -KILL -P ${child.pid}`);
  await new Promise(r => child.on('exit', r));
  t.equal((await uploads()).length, 1, 'left behind by the killed run');
  await ok(put('kil', 'p', f), { env });
  t.same(await uploads(), [], 'no incomplete multipart upload');
  const keys = ((await c.send(new ListObjectsV2Command({ Bucket: 'kil', Prefix: 'p/' }))).Contents ?? []).map(o => o.Key!.slice(2));
  t.same(keys.filter(k => !k.startsWith('chunks/') && k !== 'map.json'), [], 'no run marker');
  t.match((await ok(`zb-chunk-s3 --verify --bucket kil --prefix p --server ${url}`, { env })).stderr, /^$/, 'verify: no stray chunk noted');
});

// RGW checks the SigV4 signature (s3rver checks only the key id): a wrong secret is refused too
t.test('wrong credentials (a wrong secret, an unknown key): exit 1 within seconds, one line naming zb-chunk-s3, nothing written', async (t) => {
  const d = tmp(t), f = join(d, 'in');
  fill(f, 1000);
  await ok(put('crd', 'p', f), { env });
  const objects = async () => ((await c.send(new ListObjectsV2Command({ Bucket: 'crd' }))).Contents ?? []).map(o => `${o.Key} ${o.ETag}`).sort();
  const before = await objects();
  for (const [bad, code] of [[{ AWS_SECRET_ACCESS_KEY: 'WRONGSECRET' }, 'SignatureDoesNotMatch'], [{ AWS_ACCESS_KEY_ID: 'NOBODY' }, 'InvalidAccessKeyId']] as const) {
    for (const cmd of [put('crd', 'p', f), `zb-chunk-s3 -d --raw --bucket crd --prefix p --server ${url} tank/d`]) {
      const t0 = Date.now(), r = await sh(cmd, { env: { ...env, ...bad } });
      t.equal(r.code, 1, `${code}: exit 1`);
      t.match(r.stderr, new RegExp(`^zb-chunk-s3: cannot read 's3://crd/p/map.json': ${code}: the credentials are not accepted .*\\(HTTP 403\\)\n$`));
      t.equal(r.stdout.length, 0, 'not a byte out');
      t.ok(Date.now() - t0 < 10_000, `within seconds (${Date.now() - t0} ms)`);
    }
  }
  t.same(await objects(), before, 'nothing written');
  t.same((await c.send(new ListMultipartUploadsCommand({ Bucket: 'crd' }))).Uploads ?? [], [], 'no upload begun');
});
