// zb-compress through real pipes: round trips for every algorithm and size, interop
// with the real gzip/pigz/zstd/xz/lz4 CLIs both ways, header filters, and failures
// (cut input, corrupt data, missing or failing compressor, usage).
import t from 'tap';
import { readFileSync, writeFileSync, mkdirSync, symlinkSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { sh, ok, pool, fill, tmp, sha256, BIN } from './lib/util.js';
import { zbWrap, zbParse } from './lib/zbstream.js';

const ALGS = ['gzip', 'pigz', 'zstd', 'lz4', 'xz'];
const LEVEL: Record<string, number> = { gzip: 6, pigz: 6, zstd: 3, lz4: 1, xz: 6 };
// the round trips run xz at level 1: level 6 costs seconds per run on a busy 2-core machine
const RT_OPT: Record<string, string> = { xz: '-l 1' };
const MIB = 1 << 20;
// name → payload: 0 bytes, 1 byte, exactly one 1 MiB frame (= the read buffer), and a
// few MiB (not a multiple of the frame) of random and of compressible data in 1 MiB frames
const SIZES: [string, number, boolean][] = [
  ['empty', 0, false], ['one-byte', 1, false], ['one-frame', MIB, false],
  ['random', 2 * MIB + 12345, false], ['text', 2 * MIB + 12345, true]];
/** Output of a failed run: nothing, or a zb stream without its end frame. */
const noEnd = (b: Buffer) => b.length === 0 || !zbParse(b).ended;

/** The fixtures in a temp dir: NAME (plain payload) and NAME.zb (a zb stream of it). */
function fixtures(t: Parameters<typeof tmp>[0]): string {
  const d = tmp(t);
  for (const [name, n, text] of SIZES) {
    fill(join(d, name), n, text);
    writeFileSync(join(d, `${name}.zb`), zbWrap(readFileSync(join(d, name)), { dataset: 'tank/x', size: n }));
  }
  // half random, half text: what the interop tests push through the real CLIs
  const mixed = Buffer.concat([randomBytes(MIB), readFileSync(join(d, 'text')).subarray(0, MIB)]);
  writeFileSync(join(d, 'mixed'), mixed);
  return d;
}
const read = (d: string, f: string) => readFileSync(join(d, f));
/** A PATH with our binaries and node but no compressor (created once per dir). */
function onlyNode(d: string): string {
  mkdirSync(join(d, 'bin'), { recursive: true });
  try { symlinkSync(process.execPath, join(d, 'bin', 'node')); } catch { /* made already */ }
  return `${BIN}:${d}/bin`;
}

for (const alg of ALGS) {
  t.test(`--${alg}: 0 B, 1 B, one frame, random and text round trip byte-identical; filter pushed and popped`, async (t) => {
    const d = fixtures(t);
    const opt = RT_OPT[alg] ?? '', level = opt ? 1 : LEVEL[alg];
    const script = SIZES.map(([n]) => `zb-compress --${alg} ${opt} < ${n}.zb | tee ${n}.c | zb-compress -d > ${n}.back`).join(' && ');
    await ok(script, { cwd: d });
    for (const [name] of SIZES) {
      const orig = zbParse(read(d, `${name}.zb`)), c = zbParse(read(d, `${name}.c`)), back = zbParse(read(d, `${name}.back`));
      t.ok(c.ended && back.ended, `${name}: both outputs end with the end frame`);
      t.same(c.meta.filters, [{ kind: 'compress', alg, level }], `${name}: filter recorded`);
      t.equal(c.meta.dataset, 'tank/x', `${name}: metadata kept`);
      t.same(back.meta, orig.meta, `${name}: -d restores the header`);
      t.equal(sha256(back.payload), sha256(orig.payload), `${name}: payload identical`);
    }
    // inside the frames is the plain format: the real CLI reads it
    writeFileSync(join(d, 'payload'), zbParse(read(d, 'random.c')).payload);
    const real = await ok(`${alg} -d -c < payload`, { cwd: d });
    t.equal(sha256(real.stdout), sha256(read(d, 'random')), `the payload is plain ${alg} data`);
    const raw = await ok(`zb-compress -d --raw < text.c`, { cwd: d });
    t.equal(sha256(raw.stdout), sha256(read(d, 'text')), '-d --raw writes the plain payload');
  });

  t.test(`--${alg} interop: --raw output read by '${alg} -d', '${alg} -c' output read by -d --raw (named and detected)`, async (t) => {
    const d = fixtures(t), want = sha256(read(d, 'mixed'));
    t.equal(sha256((await ok(`zb-compress --raw --${alg} < mixed | ${alg} -d -c`, { cwd: d })).stdout), want, `${alg} -d reads --raw`);
    t.equal(sha256((await ok(`${alg} -c < mixed | zb-compress -d --raw --${alg}`, { cwd: d })).stdout), want, '-d --raw reads it');
    t.equal(sha256((await ok(`${alg} -c < mixed | zb-compress -d --raw`, { cwd: d })).stdout), want, 'format detected by magic');
    const e = await ok(`zb-compress --raw --${alg} < /dev/null | ${alg} -d -c | wc -c; ${alg} -c < /dev/null | zb-compress -d --raw | wc -c`);
    t.equal(e.out.replace(/\s+/g, ' ').trim(), '0 0', 'empty input both ways');
  });
}

t.test('gzip and pigz write one format: each reads the other; concatenated members; Node zlib without pigz', async (t) => {
  const d = fixtures(t), want = sha256(read(d, 'mixed'));
  const nopigz = `PATH=${onlyNode(d)}`;
  t.equal(sha256((await ok(`zb-compress --raw --pigz < mixed | gzip -d -c`, { cwd: d })).stdout), want);
  t.equal(sha256((await ok(`pigz -c < mixed | zb-compress -d --raw --gzip`, { cwd: d })).stdout), want);
  t.equal(sha256((await ok(`zb-compress --pigz < text.zb | ${nopigz} zb-compress -d --raw`, { cwd: d })).stdout),
    sha256(read(d, 'text')), 'a pigz stream restores where pigz is not installed');
  const z = zbParse((await ok(`gzip -c < mixed | zb-compress -d`, { cwd: d })).stdout);
  t.ok(z.ended && z.meta.plain === true && z.meta.filters.length === 0, '-d of plain input writes a zb stream marked plain');
  t.equal(sha256(z.payload), want);
  const two = await ok(`{ gzip -c < mixed; gzip -c < text; } > two.gz && ${nopigz} zb-compress -d --raw < two.gz && zb-compress -d --raw < two.gz`, { cwd: d });
  const both = Buffer.concat([read(d, 'mixed'), read(d, 'text')]);
  t.equal(sha256(two.stdout), sha256(Buffer.concat([both, both])), 'both members, with zlib and with pigz');
  const g = await ok(`zb-compress --gzip --program gzip -l 1 < text.zb | tee g.zb | zb-compress -d --raw`, { cwd: d });
  t.equal(sha256(g.stdout), sha256(read(d, 'text')), '--program gzip runs the gzip binary');
  t.same(zbParse(read(d, 'g.zb')).meta.filters, [{ kind: 'compress', alg: 'gzip', level: 1 }]);
});

t.test('a plain zfs send stream is accepted and wrapped (plain: true); other plain input needs --raw', async (t) => {
  const p = pool(t), d = tmp(t);
  fill(join(p.mnt, 'f'), 200000, true);
  await ok(`zfs snapshot ${p.name}@s1 && zfs send ${p.name}@s1 > ${d}/send`);
  const c = zbParse((await ok(`zb-compress --zstd < ${d}/send`)).stdout);
  t.ok(c.ended && c.meta.plain === true, 'wrapped');
  t.same(c.meta.filters, [{ kind: 'compress', alg: 'zstd', level: 3 }]);
  const back = await ok(`zb-compress --zstd < ${d}/send | zb-compress -d --raw`);
  t.equal(sha256(back.stdout), sha256(readFileSync(join(d, 'send'))), 'the zfs stream comes back');
  const r = await sh(`head -c 100000 /dev/urandom | zb-compress`);
  t.equal(r.code, 1);
  t.equal(r.stderr, 'zb-compress: input is neither a zb stream nor a zfs send stream (use --raw to compress other data)\n');
});

t.test('filters stack: -d pops only the last one; a stream whose last filter is not compression is refused', async (t) => {
  const d = tmp(t);
  fill(join(d, 'p'), 100000, true);
  writeFileSync(join(d, 'z.zb'), zbWrap(read(d, 'p')));
  const two = zbParse((await ok(`zb-compress --zstd < z.zb | zb-compress --xz -l 1 | tee two.zb`, { cwd: d })).stdout);
  t.same(two.meta.filters.map((f: any) => f.alg), ['zstd', 'xz']);
  const one = zbParse((await ok(`zb-compress -d < two.zb`, { cwd: d })).stdout);
  t.same(one.meta.filters, [{ kind: 'compress', alg: 'zstd', level: 3 }]);
  t.equal(sha256((await ok(`zb-compress -d < two.zb | zb-compress -d --raw`, { cwd: d })).stdout), sha256(read(d, 'p')));
  let r = await sh(`zb-compress -d < z.zb`, { cwd: d });
  t.equal(r.code, 1);
  t.equal(r.stderr, 'zb-compress: stream is not compressed\n');
  writeFileSync(join(d, 'enc.zb'), zbWrap(read(d, 'p'), { filters: [{ kind: 'compress', alg: 'zstd' }, { kind: 'encrypt', alg: 'age' }] }));
  r = await sh(`zb-compress -d < enc.zb`, { cwd: d });
  t.equal(r.code, 1);
  t.equal(r.stderr, 'zb-compress: stream is encrypted (age): decrypt it before decompressing\n');
  r = await sh(`zb-compress -d --gzip < two.zb`, { cwd: d });
  t.equal(r.code, 1);
  t.match(r.stderr, /stream is compressed with xz, not gzip/);
});

t.test('cut input: exit 1, output has no end frame (compress with a child, with zlib, and -d); TMPDIR left clean', async (t) => {
  const d = fixtures(t);
  mkdirSync(join(d, 'tmp'));
  await ok(`zb-compress --zstd < random.zb > r.zst.zb`, { cwd: d, env: { TMPDIR: join(d, 'tmp') } });
  for (const cmd of ['zb-compress --zstd < cut', 'zb-compress --gzip < cut', 'zb-compress -d < cutc']) {
    const r = await sh(`head -c 1500000 random.zb > cut; head -c 1500000 r.zst.zb > cutc; ${cmd}`, { cwd: d, env: { TMPDIR: join(d, 'tmp') } });
    t.equal(r.code, 1, cmd);
    t.match(r.stderr, /^zb-compress: input ended before the end frame: the stream is incomplete/, cmd);
    t.equal(r.stderr.split('\n').length, 2, 'one line');
    t.ok(noEnd(r.stdout), `${cmd}: no end frame`);
  }
  t.same(readdirSync(join(d, 'tmp')), [], 'no pipe or stderr file left behind');
});

t.test('no usable TMPDIR: one line naming it, exit 1, no output (zb-compress with a child, and zfsbackup)', async (t) => {
  const d = fixtures(t), env = { TMPDIR: join(d, 'nowhere') };
  const r = await sh(`zb-compress --zstd < random.zb`, { cwd: d, env });
  t.equal(r.code, 1);
  t.equal(r.stderr, `zb-compress: cannot make a directory in ${env.TMPDIR} (TMPDIR): no such directory\n`);
  t.equal(r.stdout.length, 0, 'nothing written');
  const p = pool(t);
  await ok(`zfs create ${p.name}/data && zfs snapshot ${p.name}/data@a`);
  const w = await sh(`zfsbackup --dataset ${p.name}/data zfs --dest ${p.name}/copy`, { env });
  t.equal(w.code, 1);
  t.equal(w.stderr, `zfsbackup: cannot make a directory in ${env.TMPDIR} (TMPDIR): no such directory\n`);
  t.equal((await sh(`zfs list ${p.name}/copy/data`)).code, 1, 'nothing received');
});

t.test('a zfs quota reached: one line, exit 1, no end frame (perl framing, the worker without perl, zlib)', async (t) => {
  const d = fixtures(t), p = pool(t), bin = join(d, 'noperl');
  mkdirSync(bin);
  for (const c of ['node', 'zstd', 'mkfifo', 'bash', 'sh']) symlinkSync((await ok(`command -v ${c}`)).out.trim(), join(bin, c));
  const runs: [string, string, Record<string, string>][] = [
    ['perl', 'zb-compress --zstd', {}], ['worker', 'zb-compress --zstd', { PATH: `${BIN}:${bin}` }],
    ['zlib', 'zb-compress --gzip -l 1', {}]];
  for (const [name, cmd, env] of runs) {
    await ok(`zfs create -o quota=512K ${p.name}/${name}`);
    const out = join(p.mnt, name, 'out.zb');
    const r = await sh(`${cmd} < random.zb > ${out}`, { cwd: d, env });
    t.equal(r.code, 1, `${name}: exit 1`);
    t.equal(r.stderr, 'zb-compress: disk quota exceeded\n', `${name}: one line`);
    t.ok(noEnd(readFileSync(out)), `${name}: no end frame`);
  }
});

t.test('corrupt compressed data: exit 1 with the decompressor\'s stderr tail, no end frame', async (t) => {
  const d = fixtures(t);
  const c = zbParse((await ok(`zb-compress --zstd < random.zb`, { cwd: d })).stdout);
  const bad = Buffer.from(c.payload);
  for (let i = 5000; i < 6000; i++) bad[i] ^= 0x55;
  writeFileSync(join(d, 'bad.zb'), zbWrap(bad, { filters: c.meta.filters }));
  const r = await sh(`zb-compress -d < bad.zb`, { cwd: d });
  t.equal(r.code, 1);
  t.match(r.stderr, /^zb-compress: 'zstd -q -d -c' failed with exit code 1: .*(corruption|checksum)/);
  t.ok(noEnd(r.stdout));
  const g = await sh(`gzip -c < mixed | head -c 50000 | PATH=${onlyNode(d)} zb-compress -d --raw > /dev/null`, { cwd: d });
  t.equal(g.code, 1, 'truncated gzip data fails in zlib too');
  t.match(g.stderr, /^zb-compress: gzip decompression failed: unexpected end of file$/m);
});

t.test('missing or failing compressor: one line, exit 1, nothing committed', async (t) => {
  const d = fixtures(t);
  const bare = `PATH=${onlyNode(d)}`;
  let r = await sh(`zb-compress --zstd --program /nonexistent < text.zb`, { cwd: d });
  t.equal(r.code, 1);
  t.equal(r.stderr, "zb-compress: '/nonexistent' not found or not executable\n");
  t.equal(r.stdout.length, 0, 'nothing written');
  for (const [alg, pkg] of [['zstd', 'zstd'], ['xz', 'xz-utils'], ['lz4', 'lz4'], ['pigz', 'pigz']]) {
    r = await sh(`${bare} zb-compress --${alg} < text.zb`, { cwd: d });
    t.equal(r.stderr, `zb-compress: '${alg}' not found: install the ${pkg} package\n`);
    t.equal(r.code, 1);
  }
  r = await sh(`zb-compress --zstd --program false < text.zb`, { cwd: d });
  t.equal(r.code, 1);
  t.equal(r.stderr, "zb-compress: 'false -q -c -3 -T0' failed with exit code 1\n");
  t.ok(noEnd(r.stdout), 'no end frame');
});

t.test('a reader that goes away is an error, not silence (zlib, a child writing directly, a child framed)', async (t) => {
  const d = fixtures(t);
  for (const cmd of ['zb-compress --gzip -l 1 < random.zb', 'zb-compress --raw --zstd < random.zb', 'zb-compress --zstd < random.zb']) {
    const r = await sh(`${cmd} | head -c 1000 > /dev/null`, { cwd: d });
    t.not(r.code, 0, cmd);
    t.match(r.stderr, /^zb-compress: broken pipe: the next stage stopped reading$/m, cmd);
  }
});

t.test('options: -T0 -l19 forms, threads, levels; usage errors exit 2 with a hint', async (t) => {
  const d = fixtures(t);
  const c = zbParse((await ok(`zb-compress --zstd -T0 -l19 < text.zb`, { cwd: d })).stdout);
  t.same(c.meta.filters, [{ kind: 'compress', alg: 'zstd', level: 19 }]);
  t.ok((await ok(`zb-compress --pigz -T 1 --level 9 < text.zb | zb-compress -d --raw -T 1 | cmp - text`, { cwd: d })));
  for (const [args, msg] of [['--bogus', "unrecognized option '--bogus'"], ['--zstd --xz', 'choose one algorithm'],
    ['--zstd -l 23', "invalid level '23'"], ['-l x', "invalid level 'x'"], ['-d -l 3', "'--level' is for compressing"],
    ['extra', "unexpected argument 'extra'"]]) {
    const r = await sh(`zb-compress ${args} < text.zb`, { cwd: d });
    t.equal(r.code, 2, args);
    t.match(r.stderr, msg, args);
    t.match(r.stderr, /Try 'zb-compress --help' for more information\./, args);
  }
  const h = await ok('zb-compress --help');
  t.match(h.out, /^Usage: zb-compress /);
});
