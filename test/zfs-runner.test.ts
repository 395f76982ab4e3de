// The zfs runner seam (lib/zfs/host.ts) through the API: the backup classes run their zfs
// queries on the host they are given, and each host probes and caches its own capabilities.
import t from 'tap';
import { writeFileSync, chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ok, pool, fill, tmp, ROOT } from './lib/util.js';

const api = await import(join(ROOT, 'dist/lib/index.js'));
// the API runs the stage binaries with our environment: without tap's NODE_OPTIONS, as shipped
delete process.env.NODE_OPTIONS;

/** A host that runs zfs on this machine and records every argv it is asked to run. */
function recording() {
  const local = new api.LocalZfs(), runs: string[][] = [];
  const host = {
    name: local.name,
    get program() { return local.program; },
    caps() { return this.probed ??= api.zfs.probeCaps(host); },
    probed: undefined as Promise<unknown> | undefined,
    run(args: string[]) { runs.push(args); return local.run(args); },
    start(args: string[], stdio: [number | 'ignore', number | 'ignore']) { runs.push(args); return local.start(args, stdio); },
  };
  return { host, runs };
}

const names = (runs: string[][], ds: string) => runs.filter(a => a.at(-1) === ds);

/** What this process asks of the default host (localZfs(), the one code without a host uses). */
function aroundIt() {
  const local = api.localZfs(), run = local.run, around: string[][] = [];
  local.run = (args: string[]) => { around.push(args); return run.call(local, args); };
  return { around, restore: () => { delete local.run; } };
}

t.test('a backup and a list through a recording host: every zfs query goes through it; the copy is made', async (t) => {
  const p = pool(t, '128M'), q = pool(t, '128M');
  await ok(`zfs create ${p.name}/data`);
  fill(`${p.mnt}/data/f`, 20_000);
  await ok(`zfs snapshot ${p.name}/data@a && zfs snapshot ${p.name}/data@b`);
  const { host, runs } = recording(), { around, restore } = aroundIt();
  t.teardown(restore);
  const b = new api.ZFSBackup(`${p.name}/data`, `${q.name}/copy`, { host, quiet: true });
  const steps = await b.backup();
  t.same(steps.map((s: any) => s.snapshot.snap), ['a', 'b'], 'a full and an incremental');
  t.same(runs.filter(a => a.length === 0).length, 1, 'capabilities probed once, on this host');
  t.ok(names(runs, `${p.name}/data`).length, 'the source snapshots were asked of this host');
  t.ok(names(runs, `${q.name}/copy/data`).length, 'the target was asked of this host');
  t.ok(runs.some(a => a[0] === 'create' && a.at(-1) === `${q.name}/copy`), "the target's parent was created on this host");
  const src = (await ok(`zb-list -H ${p.name}/data`)).out.split('\n').filter(Boolean).map(l => l.split('\t')[1]);
  const dst = (await ok(`zb-list -H ${q.name}/copy/data`)).out.split('\n').filter(Boolean).map(l => l.split('\t')[1]);
  t.same(dst, src, 'the target holds the same snapshots (guids)');
  runs.length = 0;
  const listed = await b.list();
  t.same(listed.map((s: any) => s.snap), ['a', 'b']);
  t.ok(runs.length > 0 && runs.every(a => a.at(-1) === `${q.name}/copy/data`), 'the list asked this host about the target only');
  t.same(around, [], 'nothing went around it to the default host');
});

t.test('a host that cannot run zfs fails the backup before anything is sent', async (t) => {
  const p = pool(t, '128M');
  await ok(`zfs snapshot ${p.name}@a`);
  const down = { name: 'down', program: 'zfs', caps: () => Promise.reject(new api.ZbError("host 'down' is unreachable")),
    run: () => Promise.reject(new api.ZbError("host 'down' is unreachable")),
    start: () => { throw new api.ZbError("host 'down' is unreachable"); } };
  const b = new api.ZFSBackup(p.name, `${p.name}/copy`, { host: down, quiet: true });
  await t.rejects(b.backup(), /host 'down' is unreachable/);
  t.notOk((await ok(`zfs list -H -o name -r ${p.name}`)).out.includes(`${p.name}/copy`), 'nothing was received');
});

t.test('two hosts keep separate capabilities: zfs programs with different usage texts', async (t) => {
  const d = tmp(t), count = join(d, 'count');
  const fake = (name: string, usage: string) => {
    const f = join(d, name);
    writeFileSync(f, `#!/bin/sh\necho ${name} >> ${count}\ncat >&2 <<'EOF'\nusage: zfs command args ...\n${usage}EOF\nexit 2\n`);
    chmodSync(f, 0o755);
    return f;
  };
  const openzfs = fake('openzfs', '\tlist [-Hp] [-r|-d max] [-o property[,...]] [-t type[,...]] [filesystem|volume|snapshot] ...\n' +
    '\tsend [-DLPbcehnpsvw] [-R [-X dataset[,dataset]...]] [[-I|-i] snapshot] <snapshot>\n\tsend [-PnVv] -t <receive_resume_token>\n' +
    '\treceive [-FhnsuvU] [-o <property>=<value>] <filesystem|volume|snapshot>\n\tbookmark <snapshot|bookmark> <newbookmark>\n');
  const old = fake('old', '\tlist [-rH] [-o property[,...]] [-t type[,...]] [filesystem|volume|snapshot] ...\n' +
    '\tsend [-R] [-[iI] snapshot] <snapshot>\n\treceive [-vnF] <filesystem|volume|snapshot>\n');
  const a = new api.LocalZfs(openzfs), b = new api.LocalZfs(old);
  const [ca, cb] = [await a.caps(), await b.caps()];
  t.same(ca, { listP: true, sendEstimate: true, sendRaw: true, resume: true, recvU: true, bookmarks: true }, 'the OpenZFS one: everything');
  t.same(cb, { listP: false, sendEstimate: false, sendRaw: false, resume: false, recvU: false, bookmarks: false }, 'the old one: nothing');
  t.equal(await a.caps(), ca, 'cached on its host');
  t.same(await new api.LocalZfs(old).caps(), cb, 'a new host probes again');
  t.equal(readFileSync(count, 'utf8'), 'openzfs\nold\nold\n', 'one probe per host');
  t.same(Object.keys(await api.localZfs().caps()).sort(), Object.keys(ca).sort(), "this machine's zfs probed on its own host");
  t.equal(a.program, openzfs);
  await t.rejects(new api.LocalZfs(join(d, 'none')).caps(), { message: `'${join(d, 'none')}' not found` });
});

t.test('the directory method asks zfs nothing about its destination (it does not inherit the zfs target)', async (t) => {
  const p = pool(t, '128M'), d = tmp(t);
  await ok(`zfs create ${p.name}/data && zfs snapshot ${p.name}/data@a`);
  const { host, runs } = recording();
  // a host that says it can resume receives: a zfs-target class would ask for a resume token
  const caps = host.caps.bind(host);
  host.caps = async () => ({ ...(await caps() as object), resume: true });
  const b = new api.ZFSBackupDirectory(`${p.name}/data`, d, { host, quiet: true }, { prefix: 'P' });
  t.same((await b.backup()).map((s: any) => s.snapshot.snap), ['a']);
  t.same(runs.filter(a => a.some(x => x.includes(d) || x.includes('receive_resume_token'))), [], 'no zfs argv names the directory or a resume token');
  t.notOk(b instanceof api.ZFSBackup, 'a method of its own over the shared engine');
  t.ok(b instanceof api.Backup);
});
