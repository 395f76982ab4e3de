// The chunk GET handler (lib/store/s3/get.ts) against real sockets: a body by length, by
// chunked encoding, or until the close, byte for byte under a slow reader and split reads;
// a body cut short is an error, never a short success; 100 Continue, a reply that is not
// HTTP, an abort, a dead port; the query as sent; https and PUTs left to the SDK's handler.
import t from 'tap';
import http from 'node:http';
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { fastGets, Chunked } from '../dist/lib/store/s3/get.js';

const sdk = { calls: 0, handle: async () => { sdk.calls++; return { response: 'sdk' }; }, destroy() {} };
const h = fastGets(sdk as any, 2000);
const req = (port: number, path = '/b/k', query: Record<string, any> = {}) =>
  ({ protocol: 'http:', method: 'GET', hostname: '127.0.0.1', port, path, query, headers: { host: `127.0.0.1:${port}`, 'x-amz-date': '20261201T000000Z' } });
const sum = (b: Buffer | Buffer[]) => createHash('sha256').update(Buffer.concat([b].flat())).digest('hex');

async function listen(s: net.Server): Promise<number> {
  await new Promise<void>(r => s.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => { s.close(); (s as any).closeAllConnections?.(); });
  return (s.address() as net.AddressInfo).port;
}
/** A raw server: each connection gets `reply` once its request head is in. */
const raw = (reply: (s: net.Socket, head: string) => void) => listen(net.createServer(s => {
  let got = '';
  s.on('data', d => { got += d.toString('latin1'); if (got.includes('\r\n\r\n')) { reply(s, got); got = ''; } });
  s.on('error', () => {});
}));
async function read(body: any, slow = false): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const b of body) { out.push(b); if (slow && out.length % 3 === 0) await new Promise(r => setTimeout(r, 5)); }
  return out;
}

const data = randomBytes(9 << 20);

t.test('a body by content-length, in pieces that stay intact under a slow reader', async t => {
  let seen = '';
  const port = await listen(http.createServer((q, r) => {
    seen = q.url!;
    r.writeHead(200, { 'content-length': data.length, etag: '"x"' });
    // small writes with pauses and big ones: reads of every size
    r.write(data.subarray(0, 100)); setTimeout(() => { r.write(data.subarray(100, 70_000)); r.end(data.subarray(70_000)); }, 20);
  }));
  const { response }: any = await h.handle(req(port, '/b/t_d%40s.000', { 'x-id': 'GetObject', odd: "a b!'()*&=" }));
  t.equal(response.statusCode, 200);
  t.equal(response.headers.etag, '"x"');
  t.equal(seen, `/b/t_d%40s.000?x-id=GetObject&odd=a%20b%21%27%28%29%2A%26%3D`, 'the query as the signer saw it');
  const got = await read(response.body, true);
  t.equal(sum(got), sum(data), 'every byte, in order');
  t.ok(got.every(b => b.length > 0));
});

t.test('a chunked body is decoded; a 404 comes back as the SDK expects it', async t => {
  const port = await listen(http.createServer((q, r) => {
    if (q.url!.startsWith('/missing')) { r.writeHead(404, { 'content-type': 'application/xml' }); r.end('<Error><Code>NoSuchKey</Code></Error>'); return; }
    r.writeHead(200);   // no length: chunked
    for (let i = 0; i < data.length; i += 300_001) r.write(data.subarray(i, i + 300_001));
    r.end();
  }));
  const { response }: any = await h.handle(req(port));
  t.match(response.headers['transfer-encoding'], /chunked/);
  t.equal(sum(await read(response.body)), sum(data));
  const miss: any = (await h.handle(req(port, '/missing'))).response;
  t.equal(miss.statusCode, 404);
  t.match(Buffer.concat(await read(miss.body)).toString(), /NoSuchKey/);
});

t.test('the chunked decoder, fed a byte at a time, with extensions and trailers', async t => {
  const c = new Chunked(), wire = Buffer.from('5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nx-trailer: 1\r\n\r\n');
  const out: Buffer[] = [];
  for (let i = 0; i < wire.length; i++) out.push(...c.feed(wire.subarray(i, i + 1)));
  t.equal(Buffer.concat(out).toString(), 'hello world');
  t.ok(c.done);
  t.throws(() => new Chunked().feed(Buffer.from('zz\r\n')), /bad size line/);
  t.throws(() => new Chunked().feed(Buffer.from('2\r\nabX\r\n')), /lacks the line break/);
});

t.test('a body cut short is an error, never a short success', async t => {
  const port = await raw(s => { s.write(`HTTP/1.1 200 OK\r\ncontent-length: ${data.length}\r\n\r\n`); s.end(data.subarray(0, 3 << 20)); });
  const { response }: any = await h.handle(req(port));
  await t.rejects(read(response.body), { code: 'ECONNRESET', message: /closed before the end/ });
  const port2 = await raw(s => { s.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n10\r\nonly'); s.end(); });
  await t.rejects(read(((await h.handle(req(port2))) as any).response.body), { code: 'ECONNRESET' });
  const port3 = await raw(s => { s.end('HTTP/1.1 200 OK\r\ncontent-le'); });
  await t.rejects(h.handle(req(port3)), { code: 'ECONNRESET', message: 'socket hang up' }, 'closed inside the head');
});

t.test('a body until the close; 100 Continue; a reply that is not HTTP', async t => {
  const port = await raw(s => { s.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\nx-a: 1\r\nx-a: 2\r\n\r\n'); s.end(data.subarray(0, 1 << 20)); });
  const { response }: any = await h.handle(req(port));
  t.equal(response.headers['x-a'], '1, 2');
  t.equal(sum(await read(response.body)), sum(data.subarray(0, 1 << 20)));
  const port2 = await raw(s => { s.end('SSH-2.0-OpenSSH_9.2\r\n\r\n'); });
  await t.rejects(h.handle(req(port2)), /not HTTP\/1\.1/);
  const port3 = await raw(s => { s.end('HTTP/1.1 200 OK\r\ncontent-length: 12abc\r\n\r\nhello'); });
  await t.rejects(h.handle(req(port3)), /bad content-length '12abc'/, 'a length that is no number is refused, not read to the close');
});

t.test('an abort ends a GET that waits; a port nobody listens on fails at once', async t => {
  const port = await raw(() => { /* never answers */ });
  const ac = new AbortController();
  const p = h.handle(req(port), { abortSignal: ac.signal });
  setTimeout(() => ac.abort(Object.assign(new Error('timed out'), { name: 'TimeoutError' })), 100);
  await t.rejects(p, { name: 'TimeoutError' });
  const s = net.createServer(), free = await listen(s);
  await new Promise(r => s.close(r));
  await t.rejects(h.handle(req(free)), { code: 'ECONNREFUSED' });
});

t.test('https, PUTs and GETs with a body go to the SDK handler', async t => {
  const before = sdk.calls;
  t.equal((await h.handle({ ...req(1), protocol: 'https:' })).response, 'sdk');
  t.equal((await h.handle({ ...req(1), method: 'PUT', body: Buffer.from('x') })).response, 'sdk');
  t.equal(sdk.calls, before + 2);
  t.equal(typeof (h as any).destroy, 'function', 'the rest of the handler is the SDK\'s');
});

t.test('zb-chunk-s3 -d on s3rver: the bytes back through this handler, stdout left blocking for a slow reader', async t => {
  const { s3rver, S3ENV } = await import('./lib/s3.js');
  const { ok, sh, tmp } = await import('./lib/util.js');
  const { writeFileSync, readFileSync } = await import('node:fs');
  const srv = await s3rver(t), d = tmp(t), env = S3ENV as any, o = `--bucket zbget --server ${srv.url} --prefix p`;
  writeFileSync(`${d}/in`, data);
  await ok(`zb-chunk-s3 ${o} --no-glacier --chunk-size 4M --part-size 5M --dataset t/d --snapshot s < ${d}/in`, { env });
  // the reader waits 1 s before it reads: meanwhile the writer blocks in write(2) on a full
  // pipe, and its fd 1 must not have O_NONBLOCK (04000 in fdinfo's octal flags): else every
  // write would meet EAGAIN and poll
  const r = await sh(`zb-chunk-s3 -d --raw ${o} t/d | { sleep 1; cat > ${d}/out; } & sleep 0.6
    for p in $(pgrep -f 'zb-chunk-s3 -d --raw'); do grep flags /proc/$p/fdinfo/1; done; wait`, { env });
  t.equal(r.code, 0, r.stderr);
  const flags = r.out.trim().split('\n').filter(Boolean);
  t.ok(flags.length >= 1, `fdinfo read: ${r.out}`);
  for (const f of flags) t.equal(parseInt(f.split(/\s+/)[1], 8) & 0o4000, 0, `stdout blocking (${f})`);
  t.equal(sum(readFileSync(`${d}/out`)), sum(data), 'every byte of 3 chunks back');
});

t.test('the server killed mid-read: zb-chunk-s3 -d fails within seconds with one line, the stream cut before its end', async (t) => {
  const { s3rver, S3ENV } = await import('./lib/s3.js');
  const { ok, sh, tmp } = await import('./lib/util.js');
  const { writeFileSync, statSync } = await import('node:fs');
  const srv = await s3rver(t), d = tmp(t), env = S3ENV as any, o = `--bucket zbcut --server ${srv.url} --prefix p --timeout 2`;
  const big = Buffer.concat([data, data, data]);   // 27 MiB in chunks of 8 MiB
  writeFileSync(`${d}/in`, big);
  await ok(`zb-chunk-s3 ${o} --no-glacier --chunk-size 8M --part-size 8M --dataset t/d --snapshot s < ${d}/in`, { env });
  const run = sh(`zb-chunk-s3 -d --raw ${o} t/d | pv -q -L 8m > ${d}/out`, { env });
  await new Promise(r => setTimeout(r, 1500));
  await srv.stop();
  const t0 = Date.now(), r = await run;
  t.not(r.code, 0);
  t.match(r.stderr, /^zb-chunk-s3: cannot read 's3:\/\/zbcut\/p\/chunks\/[^']+': the server does not answer \(\w+\)\n$/);
  t.ok(Date.now() - t0 < 10_000, `ended ${Date.now() - t0} ms after the kill`);
  t.ok(statSync(`${d}/out`).size < big.length, `cut: ${statSync(`${d}/out`).size} of ${big.length} bytes out`);
});
