// zb-count through real pipes: byte-identical passthrough, the 'N bytes' summary,
// progress line and NDJSON events (percent from the header's size), cut and corrupt
// streams, usage.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sh, ok, fill, tmp, sha256, ROOT } from './lib/util.js';
import { zbWrap } from './lib/zbstream.js';

const MIB = 1 << 20;
const events = (f: string) => readFileSync(f, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));

/** d/NAME plain payloads and d/NAME.zb streams: 0 B, 1 B, one 1 MiB frame, 3 MiB in 1 MiB frames (size in header). */
function fixtures(t: Parameters<typeof tmp>[0]): string {
  const d = tmp(t);
  for (const [name, n] of [['empty', 0], ['one-byte', 1], ['one-frame', MIB], ['random', 3 * MIB + 4321]] as const) {
    fill(join(d, name), n);
    writeFileSync(join(d, `${name}.zb`), zbWrap(readFileSync(join(d, name)), { dataset: 'tank/x', size: n }));
  }
  writeFileSync(join(d, 'nosize.zb'), zbWrap(readFileSync(join(d, 'random')), { dataset: 'tank/x' }, 65536));
  return d;
}

t.test('zb streams pass through byte-identical (sha256) and the summary counts payload bytes', async (t) => {
  const d = fixtures(t);
  for (const [name, n] of [['empty', 0], ['one-byte', 1], ['one-frame', MIB], ['random', 3 * MIB + 4321], ['nosize', 3 * MIB + 4321]] as const) {
    const r = await ok(`cat ${name}.zb | zb-count | sha256sum`, { cwd: d });
    t.equal(r.out.split(' ')[0], sha256(readFileSync(join(d, `${name}.zb`))), `${name}: identical`);
    t.equal(r.stderr, `${n} bytes\n`, `${name}: summary`);
  }
});

t.test('plain input passes through and every byte counts; --name labels the summary', async (t) => {
  const d = fixtures(t);
  const r = await ok(`cat random | zb-count --name raw | sha256sum`, { cwd: d });
  t.equal(r.out.split(' ')[0], sha256(readFileSync(join(d, 'random'))));
  t.equal(r.stderr, `raw: ${3 * MIB + 4321} bytes\n`);
});

t.test('-q prints nothing; in a pipeline with zb-compress the counts bracket the compression', async (t) => {
  const d = fixtures(t);
  const q = await ok(`zb-count -q < random.zb > out`, { cwd: d });
  t.equal(q.stderr, '');
  t.equal(sha256(readFileSync(join(d, 'out'))), sha256(readFileSync(join(d, 'random.zb'))));
  fill(join(d, 'text'), 2 * MIB, true);
  writeFileSync(join(d, 'text.zb'), zbWrap(readFileSync(join(d, 'text'))));
  const p = await ok(`zb-count --name in < text.zb | zb-compress --zstd | zb-count --name out | zb-compress -d --raw | sha256sum`, { cwd: d });
  t.equal(p.out.split(' ')[0], sha256(readFileSync(join(d, 'text'))));
  const [, out] = /out: (\d+) bytes/.exec(p.stderr) ?? [];
  t.match(p.stderr, `in: ${2 * MIB} bytes`);
  t.ok(Number(out) > 0 && Number(out) < MIB / 10, `compressed count ${out} is the zstd payload`);
});

t.test('--json FILE: progress events with percent when the header has a size, then done; no summary', async (t) => {
  const d = fixtures(t);
  const r = await ok(`zb-count --name snap --json ev.json < random.zb > out`, { cwd: d });
  t.equal(r.stderr, '', 'no summary with --json');
  const ev = events(join(d, 'ev.json'));
  const total = 3 * MIB + 4321;
  t.same(ev.at(-2), { event: 'progress', name: 'snap', bytes: total, rate: ev.at(-2).rate, size: total, percent: 100 });
  t.equal(ev.at(-1).event, 'done');
  t.equal(ev.at(-1).bytes, total);
  t.equal(ev.at(-1).name, 'snap');
  t.ok(ev.at(-1).seconds >= 0);
  await ok(`zb-count --json ev2.json < nosize.zb > /dev/null`, { cwd: d });
  const e2 = events(join(d, 'ev2.json'));
  t.equal(e2.at(-2).percent, null, 'no size: percent null');
  t.equal(e2.at(-2).size, null);
  t.equal(e2.at(-2).name, null);
});

t.test('--interval: progress events while a slow stream is still arriving, percent below 100', async (t) => {
  const d = fixtures(t);
  await ok(`{ head -c 1000000 random.zb; sleep 1; tail -c +1000001 random.zb; } | zb-count --json ev.json --interval 0.1 > out`, { cwd: d });
  const ev = events(join(d, 'ev.json'));
  const mid = ev.filter((e) => e.event === 'progress' && e.bytes > 0 && e.bytes < 1000000);
  t.ok(mid.length >= 3, `${mid.length} progress events during the pause`);
  t.ok(mid.every((e) => e.percent > 20 && e.percent < 40), 'percent of the size estimate');
  t.equal(ev.at(-1).event, 'done');
  t.equal(sha256(readFileSync(join(d, 'out'))), sha256(readFileSync(join(d, 'random.zb'))));
});

t.test('--progress: a \\r line on stderr with the label, rate and percent, ended by a newline', async (t) => {
  const d = fixtures(t);
  const r = await ok(`{ head -c 1000000 random.zb; sleep 0.5; tail -c +1000001 random.zb; } | zb-count --progress --name snap --interval 0.1 > /dev/null`, { cwd: d });
  const lines = r.stderr.split('\r').filter(Boolean);
  t.ok(lines.length >= 3, 'several updates');
  const mid = /^snap: [\d.]+ KiB {2}\d+:\d\d:\d\d {2}[\d.]+ (B|KiB|MiB)\/s {2}\d+\.\d% {2}ETA \d+:\d\d:\d\d */;
  t.ok(lines.some((l) => mid.test(l)), 'a line during the pause: bytes, elapsed, rate, percent, ETA');
  t.match(lines.at(-1), /^snap: 3\.00 MiB .* 100\.0% *\n$/);
  t.notMatch(r.stderr, /bytes\n/, 'no summary with --progress');
});

t.test('on a terminal (script(1) gives a pty) the progress line shows unless -q; the summary follows', async (t) => {
  const d = fixtures(t);
  const r = await ok(`script -qec 'zb-count --name tty < random.zb > out' /dev/null`, { cwd: d });
  t.match(r.out, /\rtty: 3\.00 MiB .*100\.0% *\r?\n/, 'final progress line');
  t.match(r.out, `tty: ${3 * MIB + 4321} bytes`);
  t.equal(sha256(readFileSync(join(d, 'out'))), sha256(readFileSync(join(d, 'random.zb'))));
  const q = await ok(`script -qec 'zb-count -q < random.zb > out' /dev/null`, { cwd: d });
  t.equal(q.out, '', '-q: nothing on the terminal');
});

t.test("--json -: events on stderr, the data untouched on stdout", async (t) => {
  const d = fixtures(t);
  const r = await ok(`zb-count --json - < one-frame.zb | sha256sum`, { cwd: d });
  t.equal(r.out.split(' ')[0], sha256(readFileSync(join(d, 'one-frame.zb'))));
  const ev = r.stderr.trim().split('\n').map((l) => JSON.parse(l));
  t.same(ev.map((e) => e.event), ['progress', 'done']);
  t.equal(ev[1].bytes, MIB);
});

t.test('a cut stream: what arrived passes through, exit 1, an error event and no done event', async (t) => {
  const d = fixtures(t);
  const r = await sh(`head -c 2000000 random.zb | zb-count --json ev.json > out`, { cwd: d });
  t.equal(r.code, 1);
  t.equal(r.stderr, 'zb-count: input ended before the end frame: the stream is incomplete (did an earlier stage fail?)\n');
  t.equal(sha256(readFileSync(join(d, 'out'))), sha256(readFileSync(join(d, 'random.zb')).subarray(0, 2000000)));
  const ev = events(join(d, 'ev.json'));
  t.notOk(ev.some((e) => e.event === 'done'), 'no done event');
  t.equal(ev.at(-1).event, 'error');
  const e = await sh(`zb-count < /dev/null`);
  t.equal(e.code, 1, 'empty input is a cut stream');
  t.match(e.stderr, /^zb-count: input is empty/);
});

t.test('a corrupt stream (data after the end frame, bad frame) exits 1', async (t) => {
  const d = fixtures(t);
  let r = await sh(`cat one-byte.zb one-byte > two; zb-count < two > /dev/null`, { cwd: d });
  t.equal(r.code, 1);
  t.match(r.stderr, /^zb-count: corrupt stream: data after the end frame$/m);
  const b = Buffer.from(readFileSync(join(d, 'one-frame.zb')));
  const h = 16 + b.readUInt32BE(12);
  b.writeUInt32BE(0xffffffff, h);
  writeFileSync(join(d, 'bad.zb'), b);
  r = await sh(`zb-count < bad.zb > /dev/null`, { cwd: d });
  t.equal(r.code, 1);
  t.match(r.stderr, /^zb-count: corrupt stream: frame of \d+ bytes$/m);
});

t.test('usage errors exit 2 with a hint; --help describes the options', async (t) => {
  for (const [args, msg] of [['--bogus', "unrecognized option"], ['--interval 0', "invalid interval '0'"],
    ['--interval x', "invalid interval 'x'"], ['file', "unexpected argument 'file'"], ['--json', "'--json' requires a value"]]) {
    const r = await sh(`zb-count ${args} < /dev/null`);
    t.equal(r.code, 2, args);
    t.match(r.stderr, msg, args);
    t.match(r.stderr, /Try 'zb-count --help' for more information\./, args);
  }
  const r = await sh(`zb-count --json /nonexistent/dir/f < /dev/null`);
  t.equal(r.code, 1);
  t.match(r.stderr, /^zb-count: cannot write '\/nonexistent\/dir\/f'/);
  t.match((await ok('zb-count --help')).out, /--json FILE/);
});

t.test('the filters enlarge their stdout pipe to 1 MiB (Linux, with perl)', async (t) => {
  const d = fixtures(t);
  const pub = (await ok(`age-keygen -o ${d}/key 2>&1 | sed -n 's/^Public key: //p'`)).out.trim();
  // the reader asks for the size at the end of the stream: a stage enlarges its pipes beside
  // the data (perl beside it, or before its compressor execs) and never exits before that
  const size = `perl -e '1 while sysread(STDIN, my $b, 65536); print fcntl(STDIN, 1032, 0)'`;
  for (const stage of ['zb-count -q', 'zb-compress --zstd', 'zb-compress', `zb-encrypt -r ${pub}`]) {
    const r = await ok(`cat ${d}/random.zb | ${stage} | ${size}`);
    t.equal(r.out, '1048576', `${stage}: its stdout pipe`);
  }
  const r = await ok(`cat ${d}/random.zb | cat | ${size}`);
  t.equal(r.out, '65536', 'cat leaves the default (what the check would see without us)');
});

t.test('without perl the pipes keep their size and every filter still works', async (t) => {
  const d = fixtures(t), bin = join(d, 'bin');
  await ok(`mkdir ${bin} && for c in node zstd mkfifo cat sh bash env; do ln -s "$(command -v $c)" ${bin}/$c; done`);
  const env = { PATH: `${bin}:${join(ROOT, 'dist', 'bin')}` };
  const r = await ok(`zb-compress --zstd < ${d}/random.zb | zb-count -q | zb-compress -d | zb-count`, { env });
  t.match(r.stderr, new RegExp(`^${3 * MIB + 4321} bytes\\n$`), 'a round trip through compress and count, no perl on PATH');
  t.equal((await sh('command -v perl', { env })).code, 1, 'perl was out of reach');
});

t.test('--limit-rate: 6 MiB at 2M takes 3 s (within 10 %), byte-identical; a bad rate is a usage error', async (t) => {
  const d = tmp(t);
  fill(join(d, 'in'), 6 * MIB);
  writeFileSync(join(d, 'in.zb'), zbWrap(readFileSync(join(d, 'in')), { dataset: 'tank/x' }, 65536));
  const r = await ok(`zb-count -q --limit-rate 2M --json ${d}/ev < ${d}/in.zb | sha256sum`);
  const done = events(join(d, 'ev')).find((e: any) => e.event === 'done');
  t.ok(done.seconds >= 2.7 && done.seconds <= 3.3, `6 MiB at 2 MiB/s took ${done.seconds} s (its own clock, without node's start-up)`);
  t.equal(r.out.split(' ')[0], sha256(readFileSync(join(d, 'in.zb'))), 'byte-identical');
  await ok(`zb-count -q --limit-rate 1G --json ${d}/ev2 < ${d}/in.zb > /dev/null`);
  const fast = events(join(d, 'ev2')).find((e: any) => e.event === 'done');
  t.ok(fast.seconds < 1, `a high limit holds nothing back (${fast.seconds} s by its own clock)`);
  const bad = await sh(`zb-count --limit-rate fast < /dev/null`);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /invalid rate 'fast'/);
});
