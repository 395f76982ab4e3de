// zb-encrypt's legacy `openssl enc` format through real pipes, against the real
// `openssl enc`: -pbkdf2 both ways for each cipher we claim, the old EVP_BytesToKey
// (md5, sha256) backups, the parameters in the zb header, bad padding, refused ciphers.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sh, ok, sha256 } from './lib/util.js';
import { zbWrap, zbParse } from './lib/zbstream.js';
import { fixtures, each, ended, CHUNK, BIG, SIZES } from './lib/encrypt-fixtures.js';

const { dir, pw, pw2, pub, input, data } = fixtures(t);

// zb-encrypt(1) lists these as tested; aes-256-cbc (the default) on every size.
const CIPHERS = ['aes-128-cbc', 'aes-192-cbc', 'aes-256-ctr', 'aes-256-cfb', 'aes-256-ofb',
  'aes-128-cfb8', 'camellia-256-cbc', 'aria-256-cbc', 'chacha20', 'des-ede3-cbc'];

t.test('openssl enc -pbkdf2: interop both ways and round trips for each cipher we claim (aes-256-cbc: every size)', async (t) => {
  const jobs = [...CIPHERS.map(c => [c, CHUNK + 1] as const), ...SIZES.map(n => ['aes-256-cbc', n] as const)];
  await each(jobs, async ([c, n]) => {
    const f = join(dir, `o-${c}-${n}`);
    const r = await ok(`zb-encrypt --raw --cipher ${c} --password-file ${pw} < ${input(n)} | tee ${f} | zb-encrypt -d --raw --cipher ${c} --kdf pbkdf2 --password-file ${pw}`);
    t.ok(r.stdout.equals(data(n)), `round trip, ${c}, ${n} bytes`);
    t.ok((await ok(`openssl enc -d -${c} -pbkdf2 -pass file:${pw} < ${f}`)).stdout.equals(data(n)), `ours -> openssl, ${c}, ${n} bytes`);
    // the decrypting side is the same code for every cipher: openssl -> ours for a block, a stream and a CFB-8 cipher
    if (c !== 'aes-256-cbc' && c !== 'chacha20' && c !== 'aes-128-cfb8') return;
    const b = await ok(`openssl enc -e -${c} -salt -pbkdf2 -pass file:${pw} < ${input(n)} | zb-encrypt -d --raw --cipher ${c} --kdf pbkdf2 --password-file ${pw}`);
    t.ok(b.stdout.equals(data(n)), `openssl -> ours, ${c}, ${n} bytes`);
  });
  const i = await ok(`zb-encrypt --raw --cipher aes-256-ctr --iter 1000 --password-file ${pw} < ${input(1)} | openssl enc -d -aes-256-ctr -pbkdf2 -iter 1000 -pass file:${pw}`);
  t.ok(i.stdout.equals(data(1)), '--iter 1000 -> openssl -iter 1000');
  const j = await ok(`openssl enc -aes-256-cbc -pbkdf2 -iter 1000 -md sha512 -pass file:${pw} < ${input(1)} | zb-encrypt -d --raw --cipher aes-256-cbc --kdf pbkdf2 --iter 1000 --md sha512 --password-file ${pw}`);
  t.ok(j.stdout.equals(data(1)), 'openssl -iter 1000 -md sha512 -> ours');
});

t.test('openssl enc: old EVP_BytesToKey backups (md5 and sha256, no -pbkdf2) decrypt; we never write them', async (t) => {
  await each(['md5', 'sha256'], async (md) => {
    const r = await ok(`openssl enc -aes-256-cbc -salt -md ${md} -pass file:${pw} < ${input(BIG)} 2>/dev/null | zb-encrypt -d --raw --cipher aes-256-cbc --kdf evp --md ${md} --password-file ${pw}`);
    t.equal(sha256(r.stdout), sha256(data(BIG)), `-md ${md}`);
  });
  const e = await sh(`zb-encrypt --raw --cipher aes-256-cbc --kdf evp --password-file ${pw} < ${input(1)}`);
  t.equal(e.code, 2, 'we do not write the weak derivation');
  t.match(e.stderr, /--kdf evp is only for reading old backups/);
});

t.test('openssl enc in a zb stream: parameters recorded in the header and read back; options override', async (t) => {
  const e = zbParse((await ok(`zb-encrypt --cipher aes-256-cbc --iter 2000 --password-file ${pw} | tee ${dir}/l.zb`, { input: zbWrap(data(1 << 20)) })).stdout);
  t.same(e.meta.filters, [{ kind: 'encrypt', alg: 'openssl', cipher: 'aes-256-cbc', kdf: 'pbkdf2', md: 'sha256', iter: 2000 }]);
  writeFileSync(join(dir, 'l.bin'), e.payload);
  t.ok((await ok(`openssl enc -d -aes-256-cbc -pbkdf2 -iter 2000 -pass file:${pw} < ${dir}/l.bin`)).stdout.equals(data(1 << 20)), 'the payload is plain openssl enc data');
  const d = zbParse((await ok(`zb-encrypt -d --password-file ${pw} < ${dir}/l.zb`)).stdout);
  t.ok(d.ended && d.payload.equals(data(1 << 20)), 'no option needed to decrypt');
  t.same(d.meta.filters, []);
  const w = await sh(`zb-encrypt -d --iter 1000 --password-file ${pw} < ${dir}/l.zb`);
  t.equal(w.code, 1, 'an option overrides the header (here wrongly: bad padding)');
  t.notOk(ended(w.stdout), 'no end frame');
});

t.test('openssl enc: a wrong passphrase on CBC -> exit 1 "wrong passphrase or corrupted data", no end frame', async (t) => {
  // A fixed salt and plaintext make this deterministic (1 wrong key in 256 yields valid padding).
  // openssl 3 does not write the Salted__ header when -S is given: we add it.
  writeFileSync(join(dir, 'fixed'), Buffer.alloc(100000, 'backup '));
  const body = (await ok(`openssl enc -aes-256-cbc -pbkdf2 -S 0102030405060708 -pass file:${pw} < ${dir}/fixed`)).stdout;
  const enc = Buffer.concat([Buffer.from('Salted__'), Buffer.from('0102030405060708', 'hex'), body]);
  writeFileSync(join(dir, 'fixed.enc'), enc);
  t.ok((await ok(`openssl enc -d -aes-256-cbc -pbkdf2 -pass file:${pw} < ${dir}/fixed.enc`)).stdout.equals(readFileSync(join(dir, 'fixed'))), 'fixture is valid openssl data');
  const r = await sh(`zb-encrypt -d --raw --cipher aes-256-cbc --kdf pbkdf2 --password-file ${pw2} < ${dir}/fixed.enc`);
  t.equal(r.code, 1);
  t.match(r.stderr, /^zb-encrypt: wrong passphrase or corrupted data \(bad padding in the last block\)$/m);
  const filter = { kind: 'encrypt', alg: 'openssl', cipher: 'aes-256-cbc', kdf: 'pbkdf2', md: 'sha256', iter: 10000 };
  const z = await sh(`zb-encrypt -d --password-file ${pw2}`, { input: zbWrap(enc, { filters: [filter] }) });
  t.equal(z.code, 1);
  t.notOk(ended(z.stdout), 'zb output has no end frame');
});

t.test('openssl enc: refused ciphers and missing parameters are usage errors', async (t) => {
  const cases = [
    ['--cipher aes-256-ecb', /refusing to encrypt with 'aes-256-ecb': ECB/],
    ['--cipher aes-256-gcm', /not an 'openssl enc' cipher/],
    ['--cipher rot13', /unknown cipher 'rot13'/],
    ['--cipher aes-256-cbc --md nope', /unknown message digest 'nope'/],
    [`--cipher aes-256-cbc -r ${pub}`, /passphrase-only/],
  ] as const;
  await each(cases, async ([args, msg]) => {
    const r = await sh(`zb-encrypt --raw ${args} --password-file ${pw} < ${input(1)}`);
    t.equal(r.code, 2, args);
    t.match(r.stderr, msg, args);
  });
  const p = await sh(`openssl enc -aes-256-cbc -pbkdf2 -pass file:${pw} < ${input(1)} | zb-encrypt -d --raw --password-file ${pw}`);
  t.equal(p.code, 2);
  t.match(p.stderr, /plain 'openssl enc' input: give --cipher and --kdf/);
});

