// The ssh method when things go wrong, against a real sshd on 127.0.0.1: host keys unknown or
// changed, a key or user the server refuses, a server that never answers, sshd or zb-send
// killed mid-stream, a remote receive that fails mid-stream, input that fails or a receive
// that fails at start, a target that would need -F, dataset names made of shell syntax. Each
// ends non-zero with one line within seconds, and nothing is committed on the target.
import t from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';
import { sh, ok, pool, treeSums, fill, tmp, ROOT, ENV } from './lib/util.js';
import { sshd } from './lib/sshd.js';

const oneLine = (t: any, stderr: string, re: RegExp) => {
  const lines = stderr.trim().split('\n');
  t.equal(lines.length, 1, `one line: ${stderr.trim()}`);
  t.match(lines[0], re);
};
/** Until the remote zfs receive into ds runs (its stream is flowing), at most 15 s. */
/** Wait until the remote zfs receive into ds runs (its own process, not a command line that
 *  ends with its words). */
const receiving = async (ds: string) => {
  for (let i = 0; i < 150 && (await sh(`pgrep -f '^([^ ]*/)?zfs receive ${ds}$'`)).code !== 0; i++) await new Promise(r => setTimeout(r, 100));
};
const absent = async (ds: string) => (await sh(`zfs list -H -o name ${ds}`)).code !== 0;

t.test('an unknown host key is refused with its fingerprint and the command that adds it; --accept-new-host-key records it', async (t) => {
  const s = await sshd(t);
  const p = pool(t), q = pool(t);
  fill(`${p.mnt}/f`, 100_000); await ok(`zfs snapshot ${p.name}@a`);
  const fp = execFileSync('ssh-keygen', ['-lf', join(s.dir, 'host_key.pub')]).toString().split(' ')[1];
  const r = await sh(`zfsbackup --pool ${p.name} ssh --dest ${q.name}/bk --host ${s.alias}`, { env: s.env });
  t.equal(r.code, 1);
  oneLine(t, r.stderr, new RegExp(`^zfsbackup: the host key of '\\[127\\.0\\.0\\.1\\]:${s.port}' is not known \\(ssh-ed25519 ${fp.replace(/[+/]/g, '\\$&')}\\)`));
  t.ok(await absent(`${q.name}/bk`), 'nothing made on the target');
  const add = /add it with: (echo .*? >> \S+)/.exec(r.stderr)![1];
  await ok(add, { env: s.env });   // the command as printed
  await ok(`zfsbackup --pool ${p.name} ssh --dest ${q.name}/bk --host ${s.alias}`, { env: s.env });
  t.same(treeSums(`${q.mnt}/bk`), treeSums(p.mnt), 'then the backup runs');
  const s2 = await sshd(t);
  const r2 = await ok(`zb-list --accept-new-host-key --host 127.0.0.1 --port ${s2.port} ${q.name}/bk`, { env: s2.env });
  t.match(r2.stderr, /note: added the host key of '\[127\.0\.0\.1\]:\d+' \(ssh-ed25519 SHA256:/);
  t.match(readFileSync(join(s2.home, '.ssh/known_hosts'), 'utf8'), `[127.0.0.1]:${s2.port} ${s2.hostPub}`);
  await ok(`zb-list --host 127.0.0.1 --port ${s2.port} ${q.name}/bk`, { env: s2.env });
});

t.test('a changed host key is refused, louder, even with --accept-new-host-key; known_hosts is left alone', async (t) => {
  const s = await sshd(t);
  const d = tmp(t);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(d, 'other')]);
  const kh = join(s.home, '.ssh/known_hosts');
  writeFileSync(kh, `[127.0.0.1]:${s.port} ${readFileSync(join(d, 'other.pub'), 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
  const before = readFileSync(kh, 'utf8');
  for (const extra of ['', '--accept-new-host-key']) {
    const r = await sh(`zb-list ${extra} --host ${s.alias} somepool/ds`, { env: s.env });
    t.equal(r.code, 1);
    oneLine(t, r.stderr, /^zb-list: WARNING: THE HOST KEY OF '\[127\.0\.0\.1\]:\d+' HAS CHANGED .*refusing to connect, whatever the options/);
  }
  t.equal(readFileSync(kh, 'utf8'), before);
});

t.test('a key or a user the server refuses: one line, exit 1; a server that never answers: ends within seconds', async (t) => {
  const s = await sshd(t); s.known();
  const d = tmp(t);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(d, 'wrong')]);
  const r = await sh(`zb-list --host ${s.alias} -i ${d}/wrong x/y`, { env: s.env });
  t.equal(r.code, 1);
  oneLine(t, r.stderr, new RegExp(`^zb-list: cannot log in to '${s.alias}' \\(127\\.0\\.0\\.1\\) port ${s.port} as 'root': the server took none of the keys tried \\(${d}/wrong\\)`));
  const u = await sh(`zb-list --host ${s.alias} --user nosuchuser x/y`, { env: s.env });
  t.equal(u.code, 1);
  oneLine(t, u.stderr, /cannot log in .* as 'nosuchuser'/);
  const mute = createServer(() => { /* accepts, says nothing */ });
  await new Promise<void>(res => mute.listen(0, '127.0.0.1', () => res()));
  t.teardown(() => mute.close());
  writeFileSync(join(s.home, '.ssh/config'), `Host mute\n  HostName 127.0.0.1\n  Port ${(mute.address() as any).port}\n  ConnectTimeout 2\n`);
  const t0 = Date.now();
  const m = await sh(`zb-list --host mute x/y`, { env: s.env });
  t.equal(m.code, 1);
  oneLine(t, m.stderr, /cannot connect to 'mute' \(127\.0\.0\.1\) port \d+: no answer within 2 s/);
  t.ok(Date.now() - t0 < 8000, `ended in ${Date.now() - t0} ms`);
  mute.closeAllConnections?.();
});

t.test('sshd killed mid-stream: zb-recv-ssh fails and says so, nothing is received, the next run succeeds', async (t) => {
  const s = await sshd(t); s.known();
  const p = pool(t), q = pool(t);
  fill(`${p.mnt}/big`, 4 << 20); await ok(`zfs snapshot ${p.name}@a`);
  const run = sh(`zb-send ${p.name}@a | pv -q -L 1m | zb-recv-ssh --host ${s.alias} ${q.name}/bk`, { env: s.env });
  await receiving(`${q.name}/bk`);
  // the pipe from sshd into the remote zfs was enlarged first (F_GETPIPE_SZ, 1032)
  const size = await ok(`p=$(pgrep -f '^([^ ]*/)?zfs receive ${q.name}/bk$' | head -1); perl -e 'open(my $f, "<", $ARGV[0]) or die; print fcntl($f, 1032, 0)' /proc/$p/fd/0`);
  t.equal(size.out, '1048576', 'its input pipe is 1 MiB');
  s.kill();
  const t0 = Date.now();
  const r = await run;
  t.not(r.code, 0);
  t.match(r.stderr, /^zb-recv-ssh: connection to 'zbt-backup' lost/m);
  t.ok(Date.now() - t0 < 10000, `ended in ${Date.now() - t0} ms`);
  await new Promise(res => setTimeout(res, 1000));
  t.ok(await absent(`${q.name}/bk`), 'no dataset, no snapshot received');
  const s2 = await sshd(t); s2.known();
  await ok(`zfsbackup --pool ${p.name} ssh --dest ${q.name}/bk --host ${s2.alias}`, { env: s2.env });
  t.same(treeSums(`${q.mnt}/bk`), treeSums(p.mnt), 'the next run copies it whole');
});

t.test('a network gone silent mid-stream (sshd stopped): the keepalive ends the run within seconds, nothing received', async (t) => {
  const s = await sshd(t); s.known();
  const p = pool(t), q = pool(t);
  fill(`${p.mnt}/big`, 4 << 20); await ok(`zfs snapshot ${p.name}@a`);
  writeFileSync(join(s.home, '.ssh/config'), `Host ${s.alias}\n  HostName 127.0.0.1\n  Port ${s.port}\n  User root\n  ServerAliveInterval 1\n  ServerAliveCountMax 2\n`);
  const run = sh(`zb-send ${p.name}@a | pv -q -L 1m | zb-recv-ssh --host ${s.alias} ${q.name}/bk`, { env: s.env });
  await receiving(`${q.name}/bk`);
  const kids = (await ok(`pgrep -P ${s.proc.pid}`)).out.trim().split('\n').filter(Boolean).map(Number);
  for (const k of [s.proc.pid!, ...kids]) process.kill(k, 'SIGSTOP');
  const t0 = Date.now();
  const r = await run;
  for (const k of [s.proc.pid!, ...kids]) try { process.kill(k, 'SIGCONT'); } catch { /* gone */ }
  t.not(r.code, 0);
  t.match(r.stderr, /^zb-recv-ssh: connection to 'zbt-backup' lost: no answer for 2 s/m);
  t.ok(Date.now() - t0 < 8000, `ended ${Date.now() - t0} ms after the network went silent`);
  s.kill();
  await new Promise(res => setTimeout(res, 1000));
  t.ok(await absent(`${q.name}/bk`), 'nothing received');
});

t.test('a receive that fails at start ends at once, while its writer still holds the pipe open', async (t) => {
  // zb-recv-ssh reads its stdin on the event loop, ahead of the stream: that read must not
  // keep it alive once it has failed (here: nothing listens on port 1)
  const p = pool(t), d = tmp(t);
  fill(`${p.mnt}/f`, 100_000); await ok(`zfs snapshot ${p.name}@a`);
  const r = await sh(`mkfifo ${d}/f; (zb-send ${p.name}@a; exec sleep 30) > ${d}/f 2>/dev/null & w=$!; ` +
    `s=$(date +%s%N); zb-recv-ssh --host 127.0.0.1 --port 1 ${p.name}/bk < ${d}/f; rc=$?; e=$(date +%s%N); kill $w; echo $rc $(( (e - s) / 1000000 ))`);
  const [rc, ms] = r.out.trim().split(' ').map(Number);
  t.equal(rc, 1);
  oneLine(t, r.stderr, /^zb-recv-ssh: cannot connect to '127\.0\.0\.1' port 1: connection refused$/);
  t.ok(ms < 5000, `ended in ${ms} ms, with 30 s of writer left`);
});

t.test('input from a socket reset mid-stream: one line, the read error; nothing received', async (t) => {
  const s = await sshd(t); s.known();
  const p = pool(t), q = pool(t), d = tmp(t);
  fill(`${p.mnt}/big`, 8 << 20); await ok(`zfs snapshot ${p.name}@a`);
  await ok(`zb-send ${p.name}@a > ${d}/s.zb`);
  const data = readFileSync(`${d}/s.zb`);
  let conn: Socket | undefined;
  const srv = createServer((c) => { conn = c; c.on('error', () => {}); c.write(data.subarray(0, 4 << 20)); });
  await new Promise<void>(res => srv.listen(0, '127.0.0.1', () => res()));
  t.teardown(() => srv.close());
  const cli = connect((srv.address() as any).port, '127.0.0.1');
  await once(cli, 'connect');
  const env: Record<string, string | undefined> = { ...ENV, ...s.env };
  delete env.NODE_OPTIONS;
  const c = spawn('zb-recv-ssh', ['--host', s.alias, `${q.name}/bk`], { env, stdio: [cli, 'ignore', 'pipe'] });
  cli.destroy();   // the receive has its own copy
  let err = '';
  c.stderr!.on('data', (b) => { err += b; });
  const closed = once(c, 'close');
  await receiving(`${q.name}/bk`);
  conn!.resetAndDestroy();
  const t0 = Date.now();
  const [code] = await closed;
  t.equal(code, 1);
  oneLine(t, err, /^zb-recv-ssh: read error: read ECONNRESET$/);
  t.ok(Date.now() - t0 < 5000, `ended in ${Date.now() - t0} ms`);
  await new Promise(res => setTimeout(res, 1000));
  t.ok(await absent(`${q.name}/bk`), 'nothing received');
});

t.test('the remote receive fails mid-stream (out of space under a quota): its error in one line, at once, nothing received', async (t) => {
  const s = await sshd(t); s.known();
  const p = pool(t), q = pool(t), d = tmp(t);
  fill(`${p.mnt}/big`, 12 << 20); await ok(`zfs snapshot ${p.name}@a`);
  await ok(`zfs create -o quota=3M ${q.name}/lim`);
  await ok(`zb-send ${p.name}@a > ${d}/s.zb`);
  const t0 = Date.now();
  const r = await sh(`zb-recv-ssh --host ${s.alias} ${q.name}/lim/bk < ${d}/s.zb`, { env: s.env });
  t.equal(r.code, 1);
  oneLine(t, r.stderr, new RegExp(`^zb-recv-ssh: 'zfs receive ${q.name}/lim/bk' on 'zbt-backup' failed with exit code 1: cannot receive new filesystem stream: out of space$`));
  t.ok(Date.now() - t0 < 8000, `ended in ${Date.now() - t0} ms`);
  t.ok(await absent(`${q.name}/lim/bk`), 'nothing received');
});

t.test('zb-send killed mid-stream: the remote receive does not commit', async (t) => {
  const s = await sshd(t); s.known();
  const p = pool(t), q = pool(t), d = tmp(t);
  fill(`${p.mnt}/big`, 8 << 20); await ok(`zfs snapshot ${p.name}@a`);
  const r = await sh(`mkfifo ${d}/f; zb-send ${p.name}@a > ${d}/f & sp=$!; pv -q -L 512k < ${d}/f | zb-recv-ssh --host ${s.alias} ${q.name}/bk & rp=$!; ` +
    `for i in $(seq 150); do pgrep -f 'zfs receive ${q.name}/bk$' >/dev/null && break; sleep 0.1; done; kill -KILL $sp; wait $rp`, { env: s.env });
  t.equal(r.code, 1);
  t.match(r.stderr, /zb-recv-ssh: input ended before the end frame: the stream is incomplete/);
  await new Promise(res => setTimeout(res, 1000));
  t.ok(await absent(`${q.name}/bk`), 'nothing committed on the remote');
});

t.test('two backups at once to one remote target: one lands, the other fails in one line, the copy is whole', async (t) => {
  const s = await sshd(t); s.known();
  const p = pool(t), q = pool(t);
  fill(`${p.mnt}/big`, 16 << 20); await ok(`zfs snapshot ${p.name}@a`);
  const run = () => sh(`zfsbackup --pool ${p.name} ssh --dest ${q.name}/bk --host ${s.alias}`, { env: s.env });
  const t0 = Date.now();
  const rs = await Promise.all([run(), run()]);
  t.ok(Date.now() - t0 < 30000, `both ended in ${Date.now() - t0} ms`);
  const won = rs.filter(r => r.code === 0), lost = rs.filter(r => r.code !== 0);
  t.ok(won.length >= 1, `at least one landed (${rs.map(r => r.code).join(', ')})`);
  for (const r of lost) oneLine(t, r.stderr, /^zfsbackup: /);
  t.same(treeSums(`${q.mnt}/bk`), treeSums(p.mnt), 'the remote copy is whole');
  t.equal((await ok(`zfs list -H -t snapshot -o name -r ${q.name}/bk`)).out.trim(), `${q.name}/bk@a`, 'one snapshot, the one sent');
  // and a second run after both: nothing to do, nothing broken
  await ok(`zfsbackup --pool ${p.name} ssh --dest ${q.name}/bk --host ${s.alias}`, { env: s.env });
});

t.test('a remote target that would need -F is refused, its files intact', async (t) => {
  const s = await sshd(t); s.known();
  const p = pool(t), q = pool(t);
  fill(`${p.mnt}/f`, 100_000); await ok(`zfs snapshot ${p.name}@a`);
  await ok(`zfs create ${q.name}/bk`); fill(`${q.mnt}/bk/precious`, 50_000);
  const before = treeSums(`${q.mnt}/bk`);
  const r = await sh(`zfsbackup --pool ${p.name} ssh --dest ${q.name}/bk --host ${s.alias}`, { env: s.env });
  t.equal(r.code, 1);
  oneLine(t, r.stderr, /^zfsbackup: target '.*\/bk' exists and holds files \('precious'\) but no snapshot: receiving would replace them/);
  t.same(treeSums(`${q.mnt}/bk`), before);
});

t.test('a remote with no zfs: one line that names it, from the receive (which looks for zfs itself), zb-list and the wrapper', async (t) => {
  const s = await sshd(t, [], { noZfs: true }); s.known();
  const p = pool(t);
  fill(`${p.mnt}/f`, 100_000); await ok(`zfs snapshot ${p.name}@a`);
  const none = /'zfs' not found on '127\.0\.0\.1' \(on its PATH or in \/usr\/sbin, \/sbin, \/usr\/local\/sbin\): install ZFS there$/;
  const at = `--host 127.0.0.1 --port ${s.port}`;
  const r = await sh(`zb-send ${p.name}@a | zb-recv-ssh ${at} ${p.name}/x`, { env: s.env });
  t.equal(r.code, 1);
  oneLine(t, r.stderr, new RegExp('^zb-recv-ssh: ' + none.source));
  const l = await sh(`zb-list ${at} ${p.name}`, { env: s.env });
  t.equal(l.code, 1);
  oneLine(t, l.stderr, new RegExp('^zb-list: ' + none.source));
  const w = await sh(`zfsbackup --pool ${p.name} ssh --dest ${p.name}/y ${at}`, { env: s.env });
  t.equal(w.code, 1);
  oneLine(t, w.stderr, new RegExp('^zfsbackup: ' + none.source));
});

t.test('dataset names made of shell syntax run nothing on the remote; the quoting survives a real remote shell', async (t) => {
  const s = await sshd(t); s.known();
  const d = tmp(t), flag = join(d, 'PWNED');
  const { shellLine: commandLine } = await import(join(ROOT, 'dist/lib/os/shell.js'));
  const words = ['a b', "it's", 'say "hi"', `$(touch ${flag})`, `\`touch ${flag}\``, `x; touch ${flag}`, `x\ntouch ${flag}`, '-rf', '*', '$HOME', '\\', '!', ''];
  const out = execFileSync('ssh', ['-p', String(s.port), '-i', join(s.home, '.ssh/id_ed25519'), '-o', `UserKnownHostsFile=${s.home}/.ssh/known_hosts`,
    '-o', 'BatchMode=yes', 'root@127.0.0.1', `printf '%s\\0' ${commandLine(words)}`], { stdio: ['ignore', 'pipe', 'ignore'] });
  t.same(out.toString().split('\0').slice(0, -1), words, 'each word arrives as itself');
  for (const w of words.slice(0, 7)) {
    const r = await sh(`zb-list --host ${s.alias} "$N"`, { env: { ...s.env, N: `pool/${w}` } });
    t.equal(r.code, 1, JSON.stringify(w));
    if (!w.includes('\n')) t.notMatch(r.stderr.trim(), /\n/, 'one line');
    t.ok(r.stderr.replace(/\s+/g, ' ').includes(`'pool/${w.replace(/\s+/g, ' ')}'`), 'the remote zfs got the name as it is');
  }
  const dash = await sh(`zb-list --host ${s.alias} -- -rf`, { env: s.env });
  t.equal(dash.code, 2);
  t.match(dash.stderr, /dataset name '-rf' is not a zfs name/);
  const p = pool(t);
  fill(`${p.mnt}/f`, 10_000); await ok(`zfs snapshot ${p.name}@a`);
  const b = await sh(`zfsbackup --pool ${p.name} ssh --dest "$D" --host ${s.alias}`, { env: { ...s.env, D: `${p.name}/$(touch ${flag})` } });
  t.equal(b.code, 1);
  t.notOk(existsSync(flag), 'nothing ran');
});
