// zb-chunk-s3 against a real s3rver when things go wrong: the server killed mid-upload, the
// stage killed, a cut stream, wrong credentials, a dead endpoint, two writers at once, a map
// of the wrong shape, part sizes S3 would refuse. Each exits non-zero with one line, within
// seconds, and commits nothing; the next run leaves no orphan.
import t from 'tap';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { ZbWriter } from '../dist/lib/index.js';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { sh, ok, tmp, fill, ENV } from './lib/util.js';
import { s3rver, S3ENV, objectFile } from './lib/s3.js';
import { glacierProxy } from './lib/glacier-proxy.js';
import { createServer } from 'node:net';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

const srv = await s3rver(t);
let seq = 0;
const opts = (p: string) => `--bucket hostile --server ${srv.url} --prefix ${p} --no-glacier`;
const put = (p: string, file: string, extra = '') => `zb-chunk-s3 ${opts(p)} --dataset tank/d --snapshot s${seq++} --chunk-size 6M --part-size 5M ${extra} < ${file}`;
const env = S3ENV;
/** The object keys under bucket/prefix, as s3rver keeps them on disk. */
function keys(p: string): string[] {
  const out: string[] = [], root = join(srv.dir, 'hostile', p);
  const walk = (d: string, rel: string) => { if (!existsSync(d)) return; for (const e of readdirSync(d, { withFileTypes: true })) {
    if (e.isDirectory()) walk(join(d, e.name), `${rel}${e.name}/`);
    else if (e.name.endsWith('._S3rver_object')) out.push(rel + e.name.replace(/\._S3rver_object$/, ''));
  } };
  walk(root, '');
  return out.sort();
}
const mapOf = (p: string) => JSON.parse(readFileSync(objectFile(srv, 'hostile', `${p}/map.json`), 'utf8'));
const chunkKeys = (p: string) => mapOf(p)['tank/d'].snapshots.flatMap((e: any) => e.chunks.map((c: any) => `chunks/${c.name}`));

t.test('the server killed mid-upload: exit 1 naming the server, map unchanged; back again, the next run leaves no orphan', async (t) => {
  const d = tmp(t), f = join(d, 'in'), p = `kill${seq}`;
  fill(f, 14 << 20);
  await ok(put(p, f), { env });
  const before = readFileSync(objectFile(srv, 'hostile', `${p}/map.json`));
  const run = sh(`(head -c 7M ${f}; sleep 3; tail -c +7340033 ${f}) | ${put(p, f.replace(/.*/, '/dev/stdin'))}`, { env });
  while (!keys(p).some(k => k.startsWith('runs/'))) await new Promise(r => setTimeout(r, 50));   // its marker is written: it uploads
  await new Promise(r => setTimeout(r, 500));
  await srv.stop();
  const t0 = Date.now(), r = await run;
  t.equal(r.code, 1);
  t.ok(Date.now() - t0 < 20_000, `failed within seconds (${Date.now() - t0} ms)`);
  t.match(r.stderr, /^zb-chunk-s3: .*the server does not answer/m);
  t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  await srv.restart();
  t.ok(readFileSync(objectFile(srv, 'hostile', `${p}/map.json`)).equals(before), 'map unchanged');
  t.ok(keys(p).some(k => k.startsWith('runs/')), 'the dead run left its marker (the server was gone)');
  await ok(put(p, f), { env });
  t.same(keys(p), [...chunkKeys(p), 'map.json'].sort(), 'only the map and the chunks it references: no orphan, no marker');
});

t.test('zb-chunk-s3 killed by SIGTERM mid-stream: exit 143, nothing left, map unchanged', async (t) => {
  const d = tmp(t), f = join(d, 'in'), p = `term${seq}`;
  fill(f, 8 << 20);
  await ok(put(p, f), { env });
  const before = keys(p);
  const c = spawn('bash', ['-c', `(head -c 7M ${f}; sleep 5) | exec ${put(p, '/dev/stdin')}`], { env: { ...ENV, ...env, NODE_OPTIONS: '' }, stdio: 'ignore' });
  await new Promise(r => setTimeout(r, 2000));
  spawn('pkill', ['-TERM', '-P', String(c.pid), '-f', 'zb-chunk-s3']);
  const code = await new Promise(r => c.on('exit', (x, s) => r(x ?? s)));
  t.equal(code, 143);
  t.same(keys(p), before, 'its chunks and marker removed');
});

t.test('a cut stream (no end frame): exit 1, nothing committed, nothing left', async (t) => {
  const d = tmp(t), z = join(d, 'z'), p = `cut${seq}`, fd = openSync(z, 'w');
  const w = new ZbWriter(fd, { dataset: 'tank/d', snapshot: 'c', guid: '7', base: null, filters: [], host: 'h', time: '2026-12-01T00:00:00Z' });
  for (let i = 0; i < 120; i++) await w.write(randomBytes(65536));
  await w.start(); closeSync(fd);
  const r = await sh(`zb-chunk-s3 ${opts(p)} --chunk-size 5M < ${z}`, { env });
  t.equal(r.code, 1);
  t.match(r.stderr, /^zb-chunk-s3: .*incomplete/);
  t.same(keys(p), [], 'no chunk, no marker, no map');
});

// s3rver checks the access key id, not SigV4 signatures: a wrong secret is not refused there
t.test('wrong credentials (an unknown key id): one line, exit 1, nothing changed', async (t) => {
  const d = tmp(t);
  fill(join(d, 'a'), 1000);
  await ok(put('creds', join(d, 'a')), { env });
  const before = keys('creds');
  for (const cmd of [`zb-chunk-s3 --verify ${opts('creds')}`, put('creds', join(d, 'a'))]) {
    const r = await sh(cmd, { env: { ...env, AWS_ACCESS_KEY_ID: 'nobody' } });
    t.equal(r.code, 1);
    t.match(r.stderr, /^zb-chunk-s3: cannot read 's3:\/\/hostile\/creds\/map.json': InvalidAccessKeyId: the credentials are not accepted/);
    t.equal(r.stderr.trim().split('\n').length, 1);
  }
  t.same(keys('creds'), before);
});

t.test('a dead endpoint fails with one clear line within seconds', async (t) => {
  const t0 = Date.now(), r = await sh(`head -c 1000 /dev/urandom | zb-chunk-s3 --bucket hostile --server http://127.0.0.1:9 --dataset a/b --snapshot s`, { env });
  t.equal(r.code, 1);
  t.match(r.stderr, /^zb-chunk-s3: .*the server does not answer \(ECONNREFUSED\)/);
  t.ok(Date.now() - t0 < 15_000, `${Date.now() - t0} ms`);
});

t.test('two writers to one prefix at once both commit', async (t) => {
  const d = tmp(t), p = `two${seq}`;
  fill(join(d, 'a'), 7 << 20); fill(join(d, 'b'), 7 << 20);
  const [a, b] = await Promise.all([sh(put(p, join(d, 'a')), { env }), sh(put(p, join(d, 'b')), { env })]);
  t.same([a.code, b.code, a.stderr + b.stderr], [0, 0, '']);
  t.equal(mapOf(p)['tank/d'].snapshots.length, 2, 'both entries in the map');
  t.match((await ok(`zb-chunk-s3 --verify ${opts(p)}`, { env })).out, /verified 2 snapshot\(s\), 4 chunk\(s\)/);
});

t.test('a map of the wrong shape is refused; nothing changes', async (t) => {
  const d = tmp(t), p = `shape${seq}`;
  fill(join(d, 'a'), 1000);
  await ok(put(p, join(d, 'a')), { env });
  const m = objectFile(srv, 'hostile', `${p}/map.json`), bad = '{"tank/d":{"snapshots":[{"name":"x","chunks":"no"}]}}';
  writeFileSync(m, bad);
  const before = keys(p), r = await sh(put(p, join(d, 'a')), { env });
  t.equal(r.code, 1);
  t.match(r.stderr, /nothing was changed/);
  t.same(keys(p), before);
  t.equal(readFileSync(m, 'utf8'), bad);
});

t.test('part sizes S3 refuses are usage errors before anything is sent', async (t) => {
  for (const [a, re] of [['--part-size 4M', /under 5 MiB/], ['--part-size 6G', /over 5 GiB/],
    ['--chunk-size 1G --part-size 5M --max-parts 100', /needs 205 parts, over --max-parts 100/]] as const) {
    const r = await sh(`zb-chunk-s3 --bucket never --server http://127.0.0.1:9 ${a} < /dev/null`, { env });
    t.equal(r.code, 2, a);
    t.match(r.stderr, re);
  }
});

t.test('credentials from a shared credentials file and --profile', async (t) => {
  const d = tmp(t), cred = join(d, 'credentials');
  writeFileSync(cred, '[zbt]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n[other]\naws_access_key_id = nobody\naws_secret_access_key = x\n');
  const e = { AWS_SHARED_CREDENTIALS_FILE: cred, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' };
  const r = await sh(`head -c 1000 /dev/urandom | zb-chunk-s3 ${opts('prof')} --profile zbt --dataset a/b --snapshot s -v`, { env: e });
  t.equal(r.code, 0, r.stderr);
  const bad = await sh(`zb-chunk-s3 --verify ${opts('prof')} --profile other`, { env: e });
  t.match(bad.stderr, /InvalidAccessKeyId/, 'the profile named is the one used');
});

t.test('503 SlowDown on uploads is retried with backoff: the backup lands, identical', async (t) => {
  const px = await glacierProxy(srv.url), d = tmp(t), f = join(d, 'in');
  t.teardown(() => px.close());
  fill(f, 16 << 20);
  px.slowDown = 3;
  const r = await sh(`zb-chunk-s3 --bucket hostile --server ${px.url} --prefix slow --no-glacier --dataset tank/d --snapshot s --chunk-size 16M --part-size 5M < ${f}`, { env });
  t.equal(r.code, 0, r.stderr);
  t.equal(px.throttled, 3, 'three parts throttled');
  t.ok((await ok(`zb-chunk-s3 -d --raw ${opts('slow')} tank/d`, { env })).stdout.equals(readFileSync(f)));
});

t.test('a server that accepts and never answers: one line within four --timeout', async (t) => {
  const held: any[] = [], s = createServer(c => { held.push(c); });
  await new Promise<void>(r => s.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => { for (const c of held) c.destroy(); s.close(); });
  const t0 = Date.now(), r = await sh(`zb-chunk-s3 --verify --bucket hostile --server http://127.0.0.1:${(s.address() as any).port} --timeout 1`, { env });
  t.equal(r.code, 1);
  t.match(r.stderr, /^zb-chunk-s3: cannot read 's3:\/\/hostile\/.*map.json': the server does not answer \(timed out\)$/m);
  t.equal(r.stderr.trim().split('\n').length, 1);
  t.ok(Date.now() - t0 < 15_000, `${Date.now() - t0} ms`);
});

// another host's run cannot be seen dead from a pid: its marker's heartbeat (`updated`) is
// judged, and only one over 10 minutes old is a failed run whose chunks may go
t.test('another host\'s run marker: under 10 minutes old its chunks are kept, over 10 its chunks and marker go', async (t) => {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const d = tmp(t), p = `age${seq}`, c = new S3Client({ region: 'us-east-1', endpoint: srv.url, forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, requestChecksumCalculation: 'WHEN_REQUIRED' });
  fill(join(d, 'a'), 1000);
  await ok(put(p, join(d, 'a')), { env });
  const obj = (k: string, b: string) => c.send(new PutObjectCommand({ Bucket: 'hostile', Key: `${p}/${k}`, Body: b }));
  const runs = [['young', 9, false], ['young', 9, true], ['old', 11, false], ['old', 11, true]] as const;
  for (const [i, [kind, min, published]] of runs.entries()) {
    const chunk = `tank_d@${kind}.1.r0000000${i}.000`, at = new Date(Date.now() - min * 60_000).toISOString();
    await obj(`chunks/${chunk}`, 'a chunk of a run elsewhere');
    await obj(`runs/elsewhere.${4000 + i}.0000000${i}.json`, JSON.stringify({ host: 'elsewhere.example', pid: 4000 + i, nonce: `0000000${i}`,
      started: at, updated: at, published, chunks: [chunk] }));
  }
  t.equal(keys(p).filter(k => /elsewhere|@(old|young)\./.test(k)).length, 8, 'four markers and their chunks there');
  await ok(put(p, join(d, 'a')), { env });   // the next backup's clean-up judges them
  t.same(keys(p).filter(k => !chunkKeys(p).includes(k)), ['chunks/tank_d@young.1.r00000000.000', 'chunks/tank_d@young.1.r00000001.000', 'map.json',
    'runs/elsewhere.4000.00000000.json', 'runs/elsewhere.4001.00000001.json'], 'the young runs\' chunks and markers kept; the old ones\' gone');
});

t.test('a reader slower than --timeout (a zfs receive busy for a while): -d waits for it, every byte out', async (t) => {
  const d = tmp(t), f = join(d, 'in'), p = `slow${seq}`;
  fill(f, 32 << 20);   // more than the socket buffers hold
  await ok(`zb-chunk-s3 ${opts(p)} --dataset tank/d --snapshot s --chunk-size 32M --part-size 8M < ${f}`, { env });
  const r = await sh(`zb-chunk-s3 -d --raw --timeout 1 ${opts(p)} tank/d | (sleep 3; cat)`, { env });
  t.equal(r.code, 0, r.stderr);
  t.ok(r.stdout.equals(readFileSync(f)), 'identical');
});
