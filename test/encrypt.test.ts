// zb-encrypt through real pipes: age v1 (passphrase and X25519) proven against the real
// `age` CLI, tampering and truncation caught before a byte of a bad chunk leaves, the
// zb stream filter rules, and the secret-file rules. (openssl enc: encrypt-openssl.test.ts)
import t from 'tap';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sh, ok, fill, sha256, pool } from './lib/util.js';
import { zbWrap, zbParse } from './lib/zbstream.js';
import { fixtures, each, ended, CHUNK, CT_CHUNK, BIG, SIZES } from './lib/encrypt-fixtures.js';

const { dir, pw, pw2, id, id2, pub, pub2, input, data } = fixtures(t);
const PASS = `--password-file ${pw} --scrypt-log-n 10`;

/** A file made once by a command (OUT in it is the path), shared by the tests that need it. */
const madeOnce = new Map<string, Promise<string>>();
function once(name: string, cmd: string): Promise<string> {
  const out = join(dir, name);
  if (!madeOnce.has(name)) madeOnce.set(name, ok(cmd.replace(/OUT/g, out)).then(() => out));
  return madeOnce.get(name)!;
}
const ageX = (n: number) => once(`x-${n}.age`, `zb-encrypt --raw -r ${pub} < ${input(n)} > OUT`);
const ageP = (n: number) => once(`p-${n}.age`, `zb-encrypt --raw ${PASS} < ${input(n)} > OUT`);
const FILTER_AGE = { kind: 'encrypt', alg: 'age', mode: 'x25519' };

/** Flip one byte of a file into a new file. */
function flipped(src: string, at: number, name: string): string {
  const b = readFileSync(src);
  b[at] ^= 0x40;
  writeFileSync(join(dir, name), b);
  return join(dir, name);
}
/** Offset of the payload (after header and 16-byte nonce) in a plain age file. */
function payloadStart(file: string): number {
  const b = readFileSync(file), mac = b.indexOf('\n--- ');
  return b.indexOf('\n', mac + 1) + 1 + 16;
}
/** The output must be a prefix of the plaintext, no longer than the chunks before the bad one. */
function prefixCheck(t: any, out: Buffer, plain: Buffer, badChunk: number, what: string): void {
  t.ok(out.length <= badChunk * CHUNK, `${what}: ${out.length} bytes out, at most ${badChunk} good chunks`);
  t.ok(plain.subarray(0, out.length).equals(out), `${what}: what came out is a prefix of the plaintext`);
}
// age 1.1.1 reads passphrases only from a terminal: this helper runs a command on a pty
// and types the password file's first line at each prompt (the passphrase is in no argv).
const PTY = join(dir, 'on-a-tty.py');  // not pty.py: that would shadow the module
writeFileSync(PTY, `import os, pty, signal, sys
pw = open(sys.argv[1], 'rb').read().split(b'\\n')[0] + b'\\n'
pid, fd = pty.fork()
if pid == 0:
    os.execvp('sh', ['sh', '-c', sys.argv[2]])
signal.signal(signal.SIGALRM, lambda *a: (os.kill(pid, 9), sys.exit(124)))
signal.alarm(60)
seen = b''
while True:
    try: d = os.read(fd, 4096)
    except OSError: break
    if not d: break
    seen += d
    if seen.rstrip().endswith(b':'):
        os.write(fd, pw); seen = b''
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
`);
const onPty = (cmd: string, passFile: string) => `python3 ${PTY} ${passFile} '${cmd}' > /dev/null`;

t.test('age X25519: ours -> age -d, age -r -> ours, and our own round trip, 0 B to 3 MiB', async (t) => {
  await each(SIZES, async (n) => {
    const enc = await ageX(n);
    t.equal(sha256((await ok(`age -d -i ${id} ${enc}`)).stdout), sha256(data(n)), `ours -> age, ${n} bytes`);
    t.equal(sha256((await ok(`zb-encrypt -d --raw -i ${id} < ${enc}`)).stdout), sha256(data(n)), `round trip, ${n} bytes`);
    t.equal(sha256((await ok(`age -r ${pub} < ${input(n)} | zb-encrypt -d --raw -i ${id}`)).stdout), sha256(data(n)), `age -> ours, ${n} bytes`);
  });
});

t.test('-R: a recipients file with comments and two keys; either identity decrypts', async (t) => {
  const rf = join(dir, 'recipients');
  writeFileSync(rf, `# backup keys\n${pub2}\n\n${pub}   \n`);
  await ok(`zb-encrypt --raw -R ${rf} < ${input(CHUNK + 1)} > ${dir}/two.age`);
  t.ok((await ok(`zb-encrypt -d --raw -i ${id2} < ${dir}/two.age`)).stdout.equals(data(CHUNK + 1)), 'second key');
  t.ok((await ok(`age -d -i ${id} ${dir}/two.age`)).stdout.equals(data(CHUNK + 1)), 'first key, by age');
});

t.test('age passphrase: round trips 0 B to 3 MiB; age -d reads ours and we read age -p (on a pty)', async (t) => {
  await each(SIZES, async (n) => {
    const enc = await ageP(n);
    t.equal(sha256((await ok(`zb-encrypt -d --raw --password-file ${pw} < ${enc}`)).stdout), sha256(data(n)), `round trip, ${n} bytes`);
    if (n !== 0 && n !== BIG) return;
    await ok(onPty(`age -d ${enc} > ${enc}.out`, pw));
    t.ok(readFileSync(`${enc}.out`).equals(data(n)), `ours -> age -d, ${n} bytes`);
  });
  // age -p always uses work factor 2^18 (a second of scrypt on each side): one size
  await ok(onPty(`age -p -o ${dir}/theirs.age ${input(BIG)}`, pw));
  t.match(readFileSync(`${dir}/theirs.age`).toString('latin1'), /^age-encryption\.org\/v1\n-> scrypt \S+ 18\n/, 'age wrote an scrypt stanza');
  t.ok((await ok(`zb-encrypt -d --raw --password-file ${pw} < ${dir}/theirs.age`)).stdout.equals(data(BIG)), 'age -p -> ours');
  t.not((await sh(onPty(`age -d ${await ageP(1)} > ${dir}/never`, pw2))).code, 0, 'age refuses ours with another passphrase');
  await ok(`zb-encrypt --raw --password-file ${pw} < ${input(1)} > ${dir}/w18.age`);
  t.match(readFileSync(`${dir}/w18.age`).toString('latin1'), /^age-encryption\.org\/v1\n-> scrypt [A-Za-z0-9+/]{22} 18\n[A-Za-z0-9+/]{43}\n--- [A-Za-z0-9+/]{43}\n/,
    'our default work factor is age\'s 2^18');
});

t.test('zb stream: the filter is recorded, the payload is a plain age file, -d restores header and payload', async (t) => {
  const meta = { dataset: 'tank/data', snapshot: 'daily-1', guid: '12345678901234567890', base: null };
  writeFileSync(join(dir, 'in.zb'), zbWrap(data(BIG), meta, 300000));
  const p = zbParse((await ok(`zb-encrypt -r ${pub} < ${dir}/in.zb | tee ${dir}/enc.zb`)).stdout);
  t.ok(p.ended, 'end frame written');
  t.same(p.meta.filters, [{ kind: 'encrypt', alg: 'age', mode: 'x25519' }]);
  t.equal(p.meta.guid, meta.guid, 'metadata kept');
  writeFileSync(join(dir, 'payload.age'), p.payload);
  t.ok((await ok(`age -d -i ${id} ${dir}/payload.age`)).stdout.equals(data(BIG)), 'age -d reads the payload');
  const d = zbParse((await ok(`zb-encrypt -d -i ${id} < ${dir}/enc.zb`)).stdout);
  t.ok(d.ended);
  t.same(d.meta, { ...meta, filters: [] }, 'header as before encryption');
  t.ok(d.payload.equals(data(BIG)));
  const z = await ok(`zb-encrypt ${PASS} < ${dir}/in.zb | tee ${dir}/encp.zb | zb-encrypt -d --password-file ${pw}`);
  t.same(zbParse(readFileSync(`${dir}/encp.zb`)).meta.filters, [{ kind: 'encrypt', alg: 'age', mode: 'scrypt' }]);
  t.ok(ended(z.stdout) && zbParse(z.stdout).payload.equals(data(BIG)), 'passphrase round trip of a zb stream');
  const e = zbParse((await ok(`zb-encrypt -r ${pub} | zb-encrypt -d -i ${id}`, { input: zbWrap(Buffer.alloc(0)) })).stdout);
  t.ok(e.ended && e.payload.length === 0, 'empty payload round trip');
});

t.test('a plain zfs send stream is wrapped; other plain input needs --raw; plain age input to -d gives a zb stream', async (t) => {
  const p0 = pool(t), zfsIn = join(dir, 'zfs-send');
  fill(join(p0.mnt, 'file'), 200000);
  await ok(`zfs snapshot ${p0.name}@s1 && zfs send ${p0.name}@s1 > ${zfsIn}`);
  const p = zbParse((await ok(`zb-encrypt -r ${pub} < ${zfsIn} | zb-encrypt -d -i ${id}`)).stdout);
  t.ok(p.ended && p.meta.plain === true, 'a zb stream marked plain');
  t.ok(p.payload.equals(readFileSync(zfsIn)), 'carrying the zfs stream unchanged');
  const r = await sh(`zb-encrypt -r ${pub} < ${input(1 << 20)}`);
  t.equal(r.code, 1);
  t.match(r.stderr, /^zb-encrypt: input is not a zb stream nor a zfs send stream$/m);
  const q = zbParse((await ok(`zb-encrypt -d -i ${id} < ${await ageX(CHUNK)}`)).stdout);
  t.ok(q.ended && q.payload.equals(data(CHUNK)), 'age file in, zb stream out');
});

t.test('-d refuses a stream whose last filter is not encryption, or that is not encrypted', async (t) => {
  const c = await sh(`zb-encrypt -d -i ${id}`, { input: zbWrap(data(1), { filters: [{ kind: 'encrypt', alg: 'age', mode: 'x25519' }, { kind: 'compress', alg: 'zstd' }] }) });
  t.equal(c.code, 1);
  t.match(c.stderr, /^zb-encrypt: the stream is compressed \(zstd\): decompress it with 'zb-compress -d' before decrypting$/m);
  const n = await sh(`zb-encrypt -d -i ${id}`, { input: zbWrap(data(1)) });
  t.equal(n.code, 1);
  t.match(n.stderr, /the stream is not encrypted/);
  const g = await sh(`zb-encrypt -d --raw -i ${id} < ${input(1 << 20)}`);
  t.equal(g.code, 1);
  t.match(g.stderr, /input is not encrypted data/);
});

t.test('tampering: one flipped byte in header, nonce, any chunk -> exit 1, nothing of the bad chunk out', async (t) => {
  const plain = data(BIG), f = join(dir, 'victim.age');
  await ok(`zb-encrypt --raw -r ${pub} < ${input(BIG)} > ${f}`);
  const P = payloadStart(f), last = Math.ceil(BIG / CHUNK) - 1, hdr = readFileSync(f).toString('latin1');
  const auth = (c: number) => new RegExp(`^zb-encrypt: authentication failed at byte offset ${c * CHUNK}: the data was altered or truncated$`, 'm');
  const cases: [string, number, number, RegExp][] = [
    ['stanza body', hdr.indexOf('\n', hdr.indexOf('-> X25519')) + 5, 0, /no identity matches the data: wrong key, or corrupted header|corrupted age header/],
    ['stanza share', hdr.indexOf('-> X25519') + 12, 0, /no identity matches|corrupted age header/],
    ['header MAC', hdr.indexOf('\n--- ') + 8, 0, /age header MAC mismatch: the header was altered|corrupted age header/],
    ['version line', 3, 0, /input is not encrypted data/],
    ['payload nonce', P - 3, 0, auth(0)],
    ['first chunk', P + 10, 0, auth(0)],
    ['middle chunk', P + 20 * CT_CHUNK + 777, 20, auth(20)],
    ['tag of chunk 33', P + 34 * CT_CHUNK - 1, 33, auth(33)],
    ['last chunk', P + last * CT_CHUNK + 50, last, auth(last)],
  ];
  await each(cases, async ([what, at, bad, msg]) => {
    const file = flipped(f, at, `bad-${bad}-${at}.age`);
    const r = await sh(`zb-encrypt -d --raw -i ${id} < ${file}`);
    t.equal(r.code, 1, `${what}: exit 1`);
    t.match(r.stderr, msg, `${what}: ${r.stderr.trim()}`);
    prefixCheck(t, r.stdout, plain, bad, what);
    t.not((await sh(`age -d -i ${id} ${file} > /dev/null`)).code, 0, `${what}: age agrees`);
  });
  // inside a zb stream (one frame): no end frame after a failure
  const zb = zbWrap(readFileSync(f), { filters: [FILTER_AGE] }, 64 << 20);
  writeFileSync(join(dir, 'v.zb'), zb);
  const at = zb.length - 12 - readFileSync(f).length + P + 20 * CT_CHUNK + 5;
  const z = await sh(`zb-encrypt -d -i ${id} < ${flipped(join(dir, 'v.zb'), at, 'bad.zb')}`);
  t.equal(z.code, 1);
  t.match(z.stderr, auth(20));
  t.notOk(ended(z.stdout), 'no end frame');
  prefixCheck(t, zbParse(z.stdout).payload, plain, 20, 'zb stream');
});

t.test('truncation and appended data -> exit 1 with a clear message, nothing unauthenticated out', async (t) => {
  const plain = data(BIG).subarray(0, 3 << 20), f = join(dir, 'exact.age');
  writeFileSync(join(dir, 'exact'), plain);
  await ok(`zb-encrypt --raw -r ${pub} < ${dir}/exact > ${f}`);
  const P = payloadStart(f), whole = readFileSync(f);
  t.equal(whole.length, P + 48 * CT_CHUNK, 'a full last chunk is not followed by an empty one');
  const cases: [string, number, RegExp, number][] = [
    ['at a chunk boundary', P + 10 * CT_CHUNK, /ends without its final chunk .*: the data was truncated/, 9],
    ['one chunk short', P + 47 * CT_CHUNK, /ends without its final chunk .*: the data was truncated/, 46],
    ['inside a chunk', P + 10 * CT_CHUNK + 500, new RegExp(`authentication failed at byte offset ${10 * CHUNK}: the data was altered or truncated`), 10],
    ['inside a tag-sized tail', P + 10 * CT_CHUNK + 7, /ends inside a chunk .*: the data was truncated/, 10],
    ['right after the nonce', P, /the age payload is missing: the data was truncated/, 0],
    ['inside the nonce', P - 5, /the age payload is missing/, 0],
    ['inside the header', 40, /the age header is truncated/, 0],
  ];
  await each(cases, async ([what, len, msg, bad]) => {
    const r = await sh(`head -c ${len} ${f} | zb-encrypt -d --raw -i ${id}`);
    t.equal(r.code, 1, `${what}: exit 1`);
    t.match(r.stderr, msg, `${what}: ${r.stderr.trim()}`);
    prefixCheck(t, r.stdout, plain, bad, what);
  });
  writeFileSync(join(dir, 'long.age'), Buffer.concat([whole, whole.subarray(P, P + CT_CHUNK)]));
  const a = await sh(`zb-encrypt -d --raw -i ${id} < ${dir}/long.age`);
  t.equal(a.code, 1);
  t.match(a.stderr, /data follows the final chunk of the age payload/);
  prefixCheck(t, a.stdout, plain, 47, 'appended chunk');
  const z = await sh(`zb-encrypt -r ${pub} | head -c 2000000 | zb-encrypt -d -i ${id}`, { input: zbWrap(plain) });
  t.equal(z.code, 1, 'a cut zb stream fails');
  t.match(z.stderr, /the stream is incomplete/);
  t.notOk(ended(z.stdout), 'and gets no end frame');
});

t.test('wrong passphrase, wrong identity, wrong kind of key -> exit 1 with a clear message, no output', async (t) => {
  const p = await ageP(CHUNK), x = await ageX(CHUNK);
  const cases: [string, string, RegExp][] = [
    [`--password-file ${pw2} < ${p}`, 'wrong passphrase', /^zb-encrypt: wrong passphrase or corrupted header$/m],
    [`-i ${id2} < ${x}`, 'wrong identity', /^zb-encrypt: no identity matches the data: wrong key, or corrupted header$/m],
    [`-i ${id} < ${p}`, 'identity for a passphrase file', /encrypted with a passphrase \(age scrypt\): give --password-file/],
    [`--password-file ${pw} < ${x}`, 'passphrase for a key file', /encrypted to public keys \(age X25519\): give -i IDENTITY_FILE/],
  ];
  await each(cases, async ([args, what, msg]) => {
    const r = await sh(`zb-encrypt -d --raw ${args}`);
    t.equal(r.code, 1, what);
    t.match(r.stderr, msg, what);
    t.equal(r.stdout.length, 0, `${what}: nothing written`);
  });
  const z = await sh(`zb-encrypt -d -i ${id2}`, { input: zbWrap(readFileSync(x), { filters: [FILTER_AGE] }) });
  t.equal(z.code, 1);
  t.equal(z.stdout.length, 0, 'a zb stream gets not even its header');
});

t.test('secret files: one trailing newline dropped, loose modes warn, missing/empty/multi-line files fail clearly', async (t) => {
  const nonl = join(dir, 'nonl');
  writeFileSync(nonl, 'correct horse battery staple', { mode: 0o600 });
  t.ok((await ok(`zb-encrypt -d --raw --password-file ${nonl} < ${await ageP(1)}`)).stdout.equals(data(1)), 'with and without the newline: same passphrase');
  const loose = join(dir, 'loose'), group = join(dir, 'group'), lid = join(dir, 'loose-id');
  writeFileSync(loose, 'pw\n'); chmodSync(loose, 0o644);
  writeFileSync(group, 'pw\n'); chmodSync(group, 0o640);
  writeFileSync(lid, readFileSync(id)); chmodSync(lid, 0o644);
  const cases = [
    [`--raw --password-file ${loose} --scrypt-log-n 10`, 0, /^zb-encrypt: warning: password file '.*loose' is readable by others \(mode 0644\); run 'chmod 600 .*loose'$/m],
    [`--raw --password-file ${group} --scrypt-log-n 10`, 0, /password file '.*group' is readable by its group \(mode 0640\)/],
    [`--raw --password-file ${dir}/nope`, 1, /^zb-encrypt: password file '.*nope' does not exist$/m],
    [`--raw --password-file ${dir}`, 1, /password file '.*' is a directory/],
  ] as const;
  await each(cases, async ([args, code, msg]) => {
    const r = await sh(`zb-encrypt ${args} < ${input(1)} > /dev/null`);
    t.equal(r.code, code, args);
    t.match(r.stderr, msg, args);
  });
  const x1 = await ageX(1);
  const l = await ok(`zb-encrypt -d --raw -i ${lid} < ${x1}`);
  t.match(l.stderr, /warning: identity file .* readable by others/, 'identity files too');
  t.equal((await ok(`zb-encrypt -d --raw -i ${id} < ${x1}`)).stderr, '', 'no warning at 0600');
  const bad = [['empty', '', /password file '.*empty' is empty/], ['nl', '\n', /holds an empty passphrase/],
    ['two', 'a\nb\n', /holds more than one line/]] as const;
  await each(bad, async ([name, content, msg]) => {
    writeFileSync(join(dir, name), content, { mode: 0o600 });
    const r = await sh(`zb-encrypt --raw --password-file ${dir}/${name} < ${input(1)}`);
    t.equal(r.code, 1, name);
    t.match(r.stderr, msg, name);
  });
  const i = await sh(`zb-encrypt -d --raw -i ${pw} < ${x1}`);
  t.equal(i.code, 1);
  t.match(i.stderr, /identity file '.*pw': key 1 is unsupported or invalid/);
  t.notMatch(i.stderr, /horse/, 'a wrong file given as identity: its content is not echoed');
});

t.test('ZB_PASSWORD supplies the passphrase; no option takes the passphrase itself', async (t) => {
  const env = { ZB_PASSWORD: 'correct horse battery staple' };
  const a = await ok(`zb-encrypt --raw --scrypt-log-n 10 < ${input(CHUNK)} | zb-encrypt -d --raw --password-file ${pw}`, { env });
  t.ok(a.stdout.equals(data(CHUNK)), 'encrypt with it');
  t.ok((await ok(`zb-encrypt -d --raw < ${await ageP(1)}`, { env })).stdout.equals(data(1)), 'decrypt with it');
  await each(['--password hunter2', '--passphrase=hunter2', '-p hunter2'], async (o) => {
    t.equal((await sh(`zb-encrypt --raw ${o} < ${input(1)}`)).code, 2, `${o} is not an option`);
  });
});

t.test('usage errors exit 2: no key, mixed passphrase and recipients, bad recipient, misplaced options', async (t) => {
  const cases = [
    ['', /a passphrase is needed: give --password-file FILE/],
    [`-r ${pub} --password-file ${pw}`, /not both/],
    ['-r age1notakey', /invalid age recipient 'age1notakey'/],
    ['-r ssh-ed25519', /unsupported recipient type/],
    [`-i ${id}`, /-i is for decryption/],
    [`-r ${pub} --scrypt-log-n 10`, /--scrypt-log-n goes with a passphrase/],
    [`--password-file ${pw} --scrypt-log-n 0`, /--scrypt-log-n needs a positive integer/],
    [`--password-file ${pw} --scrypt-log-n 23`, /--scrypt-log-n must be 1\.\.22/],
    [`-d -r ${pub}`, /-r\/-R are for encryption/],
    ['extra', /unexpected argument 'extra'/],
    ['--kdf scrypt --cipher aes-256-cbc', /--kdf is pbkdf2 or evp/],
  ] as const;
  await each(cases, async ([args, msg]) => {
    const r = await sh(`zb-encrypt --raw ${args} < ${input(1)}`);
    t.equal(r.code, 2, args || '(no key)');
    t.match(r.stderr, msg, args || '(no key)');
  });
  t.match((await ok('zb-encrypt --help')).out, /^Usage: zb-encrypt \[OPTION\]\.\.\./);
});
