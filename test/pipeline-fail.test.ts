// A failed stage ends the run, at once: every stage failing at start and mid-stream on a
// 40 MiB snapshot of random data (the pipes are full when it dies) ends the run within a
// bound, with one line naming the right stage and its own reason, a non-zero status, no
// process left behind, and nothing committed. Also the wrapper itself killed, the message
// of a wrong openssl passphrase, a stage's usage line, and runPipeline's quiet and blame.
import t from 'tap';
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENV, BIN, ROOT, ok, sh, pool, fill, tmp } from './lib/util.js';

const BOUND = 20_000;   // ms: a bound against hangs, not a timing test
const MiB = 1 << 20;

// one source for the whole file: 40 MiB of random data, one snapshot
const p = pool(t, '512M');
const SRC = `${p.name}/src`;
const work = tmp(t);
const pw = join(work, 'pw');
writeFileSync(pw, 'correct horse\n', { mode: 0o600 });
writeFileSync(join(work, 'wrong'), 'battery staple\n', { mode: 0o600 });
t.before(async () => {
  await ok(`zfs create ${SRC}`);
  fill(`${p.mnt}/src/random.bin`, 40 * MiB);
  await ok(`zfs snapshot ${SRC}@s1`);
});

/** A directory of fake programs put first on PATH (or named by ZB_ZFS). */
function fakes(scripts: Record<string, string>): string {
  const d = join(work, `fake${seq++}`);
  mkdirSync(d);
  for (const [name, body] of Object.entries(scripts)) {
    writeFileSync(join(d, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(d, name), 0o755);
  }
  return d;
}
let seq = 0;

interface Run { code: number; stderr: string; ms: number; killed: boolean; left: string[] }
interface Kill { stage: string; sig: NodeJS.Signals }
interface RunOpts { env?: Record<string, string>; path?: string; kill?: Kill; interrupt?: 'wrapper' | 'group' | 'kill' }

const children = (pid: number): number[] => {
  try { return execFileSync('pgrep', ['-P', String(pid)]).toString().trim().split('\n').map(Number); } catch { return []; }
};
const argv = (pid: number): string[] => { try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'); } catch { return []; } };
const rchar = (pid: number): number => { try { return Number(/rchar: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))![1]); } catch { return 0; } };
const inGroup = (pgid: number): string[] => {
  try { return execFileSync('pgrep', ['-a', '-g', String(pgid)]).toString().trim().split('\n'); } catch { return []; }
};
const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

/**
 * zfsbackup ARGS in a process group of its own. kill: once that stage (a child of the
 * wrapper, by its argv) has read 8 MiB, send it sig; interrupt: SIGTERM to the wrapper
 * (or to its whole group, as timeout(1) does; or SIGKILL to the wrapper) once the last
 * stage has read 8 MiB.
 */
async function zb(args: string[], o: RunOpts = {}): Promise<Run> {
  const env = { ...ENV, ...o.env, ...(o.path ? { PATH: `${o.path}:${ENV.PATH}` } : {}) };
  const t0 = Date.now();
  // tap's NODE_OPTIONS (--import processinfo, put back into every spawn's env) gives each
  // stage signal-exit's JS SIGTERM handler, which a stage's blocking data loop runs only when
  // the stream has ended: not the binaries as shipped. env(1) drops it; same pid.
  const c = spawn('env', ['-u', 'NODE_OPTIONS', join(BIN, 'zfsbackup'), ...args], { env, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '', killed = false, closed = false;
  c.stderr.on('data', (d) => { stderr += d; });
  const done = new Promise<number>((resolve) => c.on('close', (code, sig) => { closed = true; resolve(code ?? 128 + (sig === 'SIGKILL' ? 9 : 15)); }));
  const watch = async () => {
    const want = o.kill?.stage;
    let pid: number | undefined;
    for (; !closed && pid === undefined; await sleep(5)) {
      const kids = children(c.pid!);
      pid = want ? kids.find(k => argv(k).includes(want)) : kids.find(k => argv(k).some(a => a === 'zb-chunk-dir' || a === 'zb-recv'));
    }
    for (; !closed; await sleep(1)) {
      const n = rchar(pid!);
      if (n < 8 * MiB) continue;
      if (o.kill) process.kill(pid!, o.kill.sig);
      else process.kill(o.interrupt === 'group' ? -c.pid! : c.pid!, o.interrupt === 'kill' ? 'SIGKILL' : 'SIGTERM');
      killed = n < 30 * MiB;   // mid-stream: most of the 40 MiB still to come
      break;
    }
  };
  if (o.kill || o.interrupt) void watch();
  const hang = setTimeout(() => { try { process.kill(-c.pid!, 'SIGKILL'); } catch { /* gone */ } }, BOUND + 10_000);
  const code = await done;
  clearTimeout(hang);
  const ms = Date.now() - t0;
  // the stages and their children (zfs send/receive, compressors) end with it
  let left = inGroup(c.pid!);
  for (let i = 0; i < 30 && left.length; i++) { await sleep(100); left = inGroup(c.pid!); }
  return { code, stderr, ms, killed, left };
}

/** The run ended in time, non-zero, with exactly one line, which matches re (null: no line). */
function failedWith(t: any, r: Run, re: RegExp | null, status?: number): void {
  t.ok(r.ms < BOUND, `ended in ${r.ms} ms`);
  t.not(r.code, 0, 'non-zero exit');
  if (status !== undefined) t.equal(r.code, status, `exit status ${status}`);
  const lines = r.stderr.split(/[\r\n]+/).filter(Boolean);
  t.equal(lines.length, re ? 1 : 0, `${re ? 'one line' : 'nothing'} on stderr: ${JSON.stringify(r.stderr)}`);
  if (re) t.match(lines[0] ?? '', re);
  t.same(r.left, [], 'no process of the run left');
}

/** A directory store: no map (or the same bytes), no chunk files, staging only of a dead run. */
function dirUntouched(t: any, d: string, map?: Buffer, clean = false): void {
  const mp = join(d, 'P', 'map.json');
  if (map) t.same(readFileSync(mp), map, 'map.json unchanged');
  else t.notOk(existsSync(mp), 'no map.json');
  const cdir = join(d, 'P', 'chunks');
  for (const f of existsSync(cdir) ? readdirSync(cdir) : []) {
    const m = /^\.zb-partial\.[^.]+\.(\d+)\.[0-9a-f]{8}$/.exec(f);
    if (m && clean) t.fail(`zb-chunk-dir got SIGTERM: it removes its staging dir, yet ${f} is left`);
    else if (m) t.notOk(alive(Number(m[1])), `staging dir ${f} is of a dead run`);
    else t.fail(`left in chunks/: ${f}`);
  }
}

/** A zfs target: nothing received under dest. */
async function zfsUntouched(t: any, dest: string): Promise<void> {
  const r = await sh(`zfs list -H -o name -t all -r ${dest}`);
  t.same(r.out.trim().split('\n').filter(Boolean), r.code === 0 ? [dest] : [], `nothing received under ${dest}`);
}

/** A dataset of the pool with a quota, filled to it when full. */
async function quota(name: string, size: string, full: boolean, store = false): Promise<string> {
  await ok(`zfs create -o quota=${size} ${p.name}/${name}`);
  const mnt = `${p.mnt}/${name}`;
  if (store) mkdirSync(`${mnt}/P/chunks`, { recursive: true });
  if (full) { await sh(`head -c 64M /dev/urandom > ${mnt}/fill; sync`); await sh(`head -c 1M /dev/urandom > ${mnt}/more`); }
  return mnt;
}

const failPigz = { pigz: 'echo "pigz: cannot start" >&2; exit 1' };
const failZstd = { zstd: 'echo "zstd: cannot start" >&2; exit 1' };
const shortPigz = { pigz: 'head -c 5242880 >/dev/null; echo "pigz: gave up" >&2; exit 3' };

interface DirCase {
  name: string; args: string[]; o?: RunOpts; fake?: Record<string, string>; dest?: 'full' | 'fills';
  store?: boolean;              // DEST/P/chunks made before the disk filled
  clean?: boolean;              // zb-chunk-dir got SIGTERM: not even a staging dir is left
  expect: RegExp | null; status?: number;
  reason?: [RegExp, string];    // the true reason, and what it is
}

const dirCases: DirCase[] = [
  // at start
  { name: 'a missing key file: zb-encrypt, its own reason', args: ['-E', '--password-file', '/nonexistent'],
    expect: /^zfsbackup: zb-encrypt \(stage 2 of 3\) failed: password file '\/nonexistent' does not exist$/ },
  { name: 'pigz exits 1 at start: zb-compress with pigz\'s words', args: ['-C', '--pigz'], fake: failPigz,
    expect: /^zfsbackup: zb-compress \(stage 2 of 3\) failed: 'pigz -c -6' failed with exit code 1: pigz: cannot start$/ },
  { name: 'zstd exits 1 at start, before zb-encrypt: zb-compress', args: ['-C', '--compress', 'zstd', '-E', '--password-file', pw], fake: failZstd,
    expect: /^zfsbackup: zb-compress \(stage 2 of 4\) failed: 'zstd .*' failed with exit code 1: zstd: cannot start$/ },
  { name: 'a full destination, new store: zb-chunk-dir', args: [], dest: 'full',
    expect: /^zfsbackup: zb-chunk-dir \(stage 2 of 2\) failed: /,
    reason: [/failed: disk quota exceeded in '.*\/P'$/m, 'the quota named'] },
  { name: 'a full destination, existing store: zb-chunk-dir', args: [], dest: 'full', store: true,
    expect: /^zfsbackup: zb-chunk-dir \(stage 2 of 2\) failed: /,
    reason: [/failed: disk quota exceeded in '.*\/P'$/m, 'the quota named'] },
  { name: 'no zfs (ZB_ZFS=/nonexistent): the wrapper says so before any stage', args: ['-C'], o: { env: { ZB_ZFS: '/nonexistent' } },
    expect: /^zfsbackup: '\/nonexistent' \(ZB_ZFS\) not found$/ },
  { name: 'zfs send fails at start: zb-send, with zfs\'s words', args: ['-C', '--compress', 'zstd'],
    fake: { zfs: `[ "$1" = send ] && { echo "cannot send: I/O error" >&2; exit 1; }; exec /usr/sbin/zfs "$@"` },
    expect: /^zfsbackup: zb-send \(stage 1 of 3\) failed: .*cannot send: I\/O error/ },
  // mid-stream
  { name: 'zb-send killed (SIGKILL) mid-stream', args: ['-C', '--compress', 'zstd'], o: { kill: { stage: 'zb-send', sig: 'SIGKILL' } },
    expect: /^zfsbackup: zb-send \(stage 1 of 3\) failed: killed by SIGKILL$/, status: 137 },
  { name: 'zb-compress killed (SIGTERM) mid-stream', args: ['-C', '--compress', 'zstd', '-E', '--password-file', pw], o: { kill: { stage: 'zb-compress', sig: 'SIGTERM' } },
    expect: /^zfsbackup: zb-compress \(stage 2 of 4\) failed: killed by SIGTERM$/, status: 143 },
  { name: 'zb-encrypt killed (SIGKILL) mid-stream', args: ['-E', '--password-file', pw], o: { kill: { stage: 'zb-encrypt', sig: 'SIGKILL' } },
    expect: /^zfsbackup: zb-encrypt \(stage 2 of 3\) failed: killed by SIGKILL$/, status: 137 },
  { name: 'zb-chunk-dir killed (SIGKILL) mid-stream', args: ['--pigz'], o: { kill: { stage: 'zb-chunk-dir', sig: 'SIGKILL' } },
    expect: /^zfsbackup: zb-chunk-dir \(stage 3 of 3\) failed: killed by SIGKILL$/, status: 137 },
  { name: 'zb-chunk-dir stopped (SIGTERM) mid-stream: it aborts its run', args: [], o: { kill: { stage: 'zb-chunk-dir', sig: 'SIGTERM' } },
    expect: /^zfsbackup: zb-chunk-dir \(stage 2 of 2\) failed: stopped by SIGTERM \(exit status 143\)$/, status: 143, clean: true },
  { name: 'pigz reads 5 MiB, then exits 3: zb-compress', args: ['--pigz'], fake: shortPigz,
    expect: /^zfsbackup: zb-compress \(stage 2 of 3\) failed: 'pigz -c -6' failed with exit code 3: pigz: gave up$/ },
  { name: 'the destination fills mid-way: zb-chunk-dir', args: ['-E', '--password-file', pw], dest: 'fills',
    expect: /^zfsbackup: zb-chunk-dir \(stage 3 of 3\) failed: disk quota exceeded in '.*\/P'$/ },
  // the wrapper itself stopped, as cron's timeout(1) would
  { name: 'SIGTERM to the wrapper mid-stream', args: ['-C', '--compress', 'zstd'], o: { interrupt: 'wrapper' },
    expect: /^zfsbackup: interrupted by SIGTERM: stopped 3 of 3 stages$/, status: 143, clean: true },
  { name: 'SIGTERM to its process group mid-stream (timeout(1))', args: ['-E', '--password-file', pw], o: { interrupt: 'group' },
    expect: /^zfsbackup: interrupted by SIGTERM: stopped 3 of 3 stages$/, status: 143, clean: true },
  { name: 'SIGKILL to the wrapper mid-stream: its stages die with it (no word: it cannot speak)', args: ['-C', '--compress', 'zstd'],
    o: { interrupt: 'kill' }, expect: null, status: 137, clean: true },
];

let n = 0;
for (const c of dirCases) {
  t.test(`directory: ${c.name} → ends, names it, commits nothing`, async (t) => {
    const i = n++;
    const d = c.dest ? await quota(`q${i}`, c.dest === 'full' ? '4M' : '8M', c.dest === 'full', c.store) : join(work, `d${i}`);
    if (!c.dest) mkdirSync(d);
    const o = { ...c.o, ...(c.fake ? (c.fake.zfs ? { env: { ZB_ZFS: join(fakes(c.fake), 'zfs') } } : { path: fakes(c.fake) }) : {}) };
    const r = await zb([...c.args, '--dataset', SRC, 'directory', '--dest', d, '--prefix', 'P'], o);
    if (c.o?.kill || c.o?.interrupt) t.ok(r.killed, 'the signal was sent mid-stream');
    failedWith(t, r, c.expect, c.status);
    if (c.reason) t.match(r.stderr, c.reason[0], 'the true reason');
    dirUntouched(t, d, undefined, c.clean);
  });
}

t.test('directory: a failed incremental leaves the map as it was, byte for byte', async (t) => {
  const d = join(work, 'inc');
  mkdirSync(d);
  await ok(`zfsbackup --dataset ${SRC}@s1 directory --dest ${d} --prefix P`);
  const map = readFileSync(join(d, 'P', 'map.json'));
  const chunks = readdirSync(join(d, 'P', 'chunks')).sort();
  await ok(`dd if=/dev/urandom of=${p.mnt}/src/more.bin bs=1M count=16 status=none && zfs snapshot ${SRC}@s2`);
  t.teardown(() => sh(`zfs destroy ${SRC}@s2; rm -f ${p.mnt}/src/more.bin`));
  const r = await zb(['-C', '--pigz', '--dataset', SRC, 'directory', '--dest', d, '--prefix', 'P'], { path: fakes(shortPigz) });
  failedWith(t, r, /^zfsbackup: zb-compress \(stage 2 of 3\) failed: 'pigz -c -6' failed with exit code 3/);
  t.same(readFileSync(join(d, 'P', 'map.json')), map, 'map.json unchanged');
  t.same(readdirSync(join(d, 'P', 'chunks')).filter(f => !f.startsWith('.zb-partial.')).sort(), chunks, 'the same chunk files');
});

interface ZfsCase { name: string; o?: RunOpts; fake?: string; dest?: 'full' | 'fills'; expect: RegExp | null; status?: number }
const zfsCases: ZfsCase[] = [
  { name: 'zfs receive fails at start: zb-recv, with zfs\'s words',
    fake: `[ "$1" = receive ] && { echo "cannot receive: permission denied" >&2; exit 1; }; exec /usr/sbin/zfs "$@"`,
    expect: /^zfsbackup: zb-recv \(stage 2 of 2\) failed: .*permission denied/ },
  { name: 'no zfs (ZB_ZFS=/nonexistent)', o: { env: { ZB_ZFS: '/nonexistent' } },
    expect: /^zfsbackup: '\/nonexistent' \(ZB_ZFS\) not found$/ },
  { name: 'a full destination: zb-recv', dest: 'full',
    expect: /^zfsbackup: zb-recv \(stage 2 of 2\) failed: .*(out of space|quota)/ },
  { name: 'the destination fills mid-way: zb-recv', dest: 'fills',
    expect: /^zfsbackup: zb-recv \(stage 2 of 2\) failed: .*(out of space|quota)/ },
  { name: 'zb-send stopped (SIGTERM) mid-stream', o: { kill: { stage: 'zb-send', sig: 'SIGTERM' } },
    expect: /^zfsbackup: zb-send \(stage 1 of 2\) failed: killed by SIGTERM$/, status: 143 },
  { name: 'zb-recv killed (SIGKILL) mid-stream', o: { kill: { stage: 'zb-recv', sig: 'SIGKILL' } },
    expect: /^zfsbackup: zb-recv \(stage 2 of 2\) failed: killed by SIGKILL$/, status: 137 },
  { name: 'zb-recv stopped (SIGTERM) mid-stream', o: { kill: { stage: 'zb-recv', sig: 'SIGTERM' } },
    expect: /^zfsbackup: zb-recv \(stage 2 of 2\) failed: killed by SIGTERM$/, status: 143 },
  { name: 'SIGTERM to the wrapper mid-stream', o: { interrupt: 'wrapper' },
    expect: /^zfsbackup: interrupted by SIGTERM: stopped 2 of 2 stages$/, status: 143 },
  { name: 'SIGKILL to the wrapper mid-stream: its stages die with it', o: { interrupt: 'kill' }, expect: null, status: 137 },
];

for (const c of zfsCases) {
  t.test(`zfs: ${c.name} → ends, names it, receives nothing`, async (t) => {
    const i = n++;
    const dest = `${p.name}/b${i}`;
    if (c.dest) await quota(`b${i}`, c.dest === 'full' ? '4M' : '8M', c.dest === 'full');
    const o = { ...c.o, ...(c.fake ? { env: { ZB_ZFS: join(fakes({ zfs: c.fake }), 'zfs') } } : {}) };
    const r = await zb(['--dataset', SRC, 'zfs', '--dest', dest], o);
    if (c.o?.kill || c.o?.interrupt) t.ok(r.killed, 'the signal was sent mid-stream');
    failedWith(t, r, c.expect, c.status);
    await zfsUntouched(t, dest);
  });
}

t.test('a wrong passphrase for the openssl format (CBC, and CTR: no padding to fail) is zb-encrypt\'s, not gzip\'s', async (t) => {
  for (const cipher of ['aes-256-cbc', 'aes-256-ctr']) {
    const d = join(work, `ssl-${cipher}`);
    mkdirSync(d);
    await ok(`zfsbackup -C -E --cipher ${cipher} --password-file ${pw} --dataset ${SRC} directory --dest ${d}`);
    const r = await zb(['-C', '-E', '--cipher', cipher, '--password-file', join(work, 'wrong'), '--dataset', SRC,
      'directory', '--dest', d, 'restore', '--to', `${p.name}/back`]);
    failedWith(t, r, /^zfsbackup: restore of .*@s1: zb-encrypt \(stage 2 of 4\) failed: bad decrypt: wrong passphrase\?/, 1);
    t.notMatch(r.stderr, /zb-compress|pigz|unrecognized/);
    await zfsUntouched(t, `${p.name}/back`);
  }
});

t.test("a stage's usage error: one line, no \"Try 'zb-compress --help'\"", async (t) => {
  const d = join(work, 'usage');
  mkdirSync(d);
  const r = await zb(['-C', '--level', '99', '--dataset', SRC, 'directory', '--dest', d, '--prefix', 'P']);
  failedWith(t, r, /^zfsbackup: zb-compress \(stage 2 of 3\) failed: invalid level '99' \(1-9\)$/, 2);
  dirUntouched(t, d);
});

// runPipeline itself, with small stages (sh scripts named as zb stages)
type PipelineModule = typeof import('../lib/index.js');
const pipeline = (): Promise<PipelineModule> => import(join(ROOT, 'dist', 'lib', 'index.js'));
const st = (name: string, script: string) => ({ name, argv: ['sh', '-c', script] });

/** What the pipeline writes on our stderr while f runs. */
async function stderrOf<T>(f: () => Promise<T>): Promise<{ v: T; err: string }> {
  const write = process.stderr.write;
  let err = '';
  (process.stderr as any).write = (s: string | Buffer) => { err += s; return true; };
  try { return { v: await f(), err }; } finally { process.stderr.write = write; }
}

t.test('runPipeline quiet: no warnings, notes or progress from the stages; the failure still described', async (t) => {
  const { runPipeline, describeFailure } = await pipeline();
  const talk = `printf 'zb-a: warning: careful\\nzb-a: note: noted\\n\\r10 MiB  0:00:01\\r20 MiB  0:00:02\\n' >&2`;
  const loud = await stderrOf(() => runPipeline([st('zb-a', `${talk}; echo data`), st('zb-b', 'cat >/dev/null')], { stdout: 'ignore' }));
  t.ok(loud.v.ok);
  t.match(loud.err, /zb-a: warning: careful\n/, 'without quiet, warnings go through');
  t.match(loud.err, /\r20 MiB/, 'and progress');
  const q = await stderrOf(() => runPipeline([st('zb-a', `${talk}; echo data`), st('zb-b', 'cat >/dev/null')], { stdout: 'ignore', quiet: true }));
  t.ok(q.v.ok);
  t.equal(q.err, '', 'quiet: nothing');
  const f = await stderrOf(() => runPipeline([st('zb-a', `${talk}; echo 'zb-a: cannot go on' >&2; exit 1`), st('zb-b', 'cat >/dev/null')],
    { stdout: 'ignore', quiet: true }));
  t.equal(f.err, '');
  t.equal(describeFailure(f.v, 2), 'zb-a (stage 1 of 2) failed: cannot go on');
});

t.test('runPipeline blame: a decrypter failing after the decompressor it fed garbage is blamed; stopped stages are secondary', async (t) => {
  const { runPipeline, describeFailure, describeSecondary } = await pipeline();
  const r = await runPipeline([
    st('zb-chunk-dir', 'exec sleep 30'),
    st('zb-encrypt', `sleep 0.2; echo 'zb-encrypt: wrong passphrase or corrupted data (bad padding in the last block)' >&2; exit 1`),
    st('zb-compress', `echo "zb-compress: 'pigz -d -c' failed with exit code 1: pigz: skipping: <stdin> unrecognized format" >&2; exit 1`),
  ], { stdout: 'ignore' });
  t.equal(describeFailure(r, 3), 'zb-encrypt (stage 2 of 3) failed: wrong passphrase or corrupted data (bad padding in the last block)');
  t.equal(r.status, 1);
  t.ok(r.results[0].stopped, 'the sleeping stage was stopped');
  t.equal(r.results[0].signal, 'SIGTERM');
  t.same(describeSecondary(r, 3), [
    'zb-chunk-dir (stage 1 of 3) stopped: killed by SIGTERM',
    "zb-compress (stage 3 of 3) failed: 'pigz -d -c' failed with exit code 1: pigz: skipping: <stdin> unrecognized format",
  ]);
  // a stage that ignores SIGTERM is killed after the grace
  const t0 = Date.now();
  const k = await runPipeline([st('zb-a', "trap '' TERM; exec sleep 30"), st('zb-b', "echo 'zb-b: no' >&2; exit 1")], { stdout: 'ignore', settle: 100, grace: 300 });
  t.equal(describeFailure(k, 2), 'zb-b (stage 2 of 2) failed: no');
  t.equal(k.results[0].signal, 'SIGKILL');
  t.ok(Date.now() - t0 < 5000, 'ended within seconds');
});
