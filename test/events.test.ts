// --json: the events of a run, each validated against the schema zfsbackup(8) documents
// (JSON EVENTS: each event's name and its fields, read from the page itself); -v's line per
// snapshot; the API's events; a failure's error event names the stage.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ZFSBackupDirectory, ZFSBackupFilterCommand, type BackupEvent } from '../dist/lib/index.js';
import { ok, sh, pool, fill, tmp, ENV, ROOT } from './lib/util.js';

process.env.PATH = ENV.PATH;

/** event name -> its fields, from the man page's JSON EVENTS list. */
function schema(): Map<string, string[]> {
  const page = readFileSync(join(ROOT, 'man/zfsbackup.8'), 'utf8');
  const sec = page.slice(page.indexOf('.Sh JSON EVENTS'), page.indexOf('.Sh', page.indexOf('.Sh JSON EVENTS') + 4));
  const m = new Map<string, string[]>();
  for (const [, name, fields] of sec.matchAll(/^\.It Cm (\S+)\n\.Sy (.*)$/gm)) m.set(name, fields.split(/\s*,\s*/));
  return m;
}
const TYPES: Record<string, string[]> = {
  dataset: ['string'], target: ['string'], snapshot: ['string', 'null'], base: ['string', 'null'], time: ['string'], message: ['string'],
  stage: ['string', 'null'], ok: ['boolean'], size: ['number', 'null'], percent: ['number', 'null'], stored: ['number', 'null'], bytes: ['number', 'null'],
};
function check(t: any, events: any[], s: Map<string, string[]>) {
  for (const e of events) {
    const fields = s.get(e.event);
    if (!fields) { t.fail(`event '${e.event}' is not documented`); continue; }
    t.same(Object.keys(e).sort(), ['event', ...fields].sort(), `${e.event}: the documented fields`);
    for (const f of fields) {
      const ty = e[f] === null ? 'null' : typeof e[f];
      t.ok((TYPES[f] ?? ['number']).includes(ty), `${e.event}.${f} is ${ty}`);
    }
  }
}

t.test('--json: start, snapshot, done per snapshot, summary; every line valid against the page', async (t) => {
  const s = schema();
  t.same([...s.keys()], ['start', 'snapshot', 'progress', 'done', 'failure', 'summary', 'count'], 'the page lists the events');
  const p = pool(t), d = tmp(t), ds = `${p.name}/data`;
  await ok(`zfs create ${ds}`);
  fill(`${p.mnt}/data/a.bin`, 2_000_000, true); await ok(`zfs snapshot ${ds}@a`);
  fill(`${p.mnt}/data/b.bin`, 500_000); await ok(`zfs snapshot ${ds}@b`);
  const r = await ok(`zfsbackup --json -C --dataset ${ds} directory --dest ${d} --prefix P`);
  const ev = r.out.trim().split('\n').map(l => JSON.parse(l));
  check(t, ev, s);
  t.same(ev.map(e => e.event).filter(e => e !== 'progress'), ['start', 'snapshot', 'done', 'snapshot', 'done', 'summary']);
  const done = ev.filter(e => e.event === 'done');
  t.ok(done[0].bytes > 2_000_000 && done[0].stored < done[0].bytes, `sent ${done[0].bytes}, stored ${done[0].stored} (compressed)`);
  const sum = ev.at(-1);
  t.same([sum.snapshots, sum.ok, sum.bytes], [2, true, done[0].bytes + done[1].bytes]);
  const up = (await ok(`zfsbackup --json --dataset ${ds} directory --dest ${d} --prefix P`)).out.trim().split('\n').map(l => JSON.parse(l));
  check(t, up, s);
  t.same(up.map(e => [e.event, e.snapshots]), [['start', 0], ['summary', 0]], 'up to date: start and summary');
  const c = (await ok(`zfsbackup --json --dataset ${ds} counter`)).out.trim().split('\n').map(l => JSON.parse(l));
  check(t, c, s);
  t.equal(c.at(-1).event, 'count');
  t.equal(c.at(-1).bytes, Number((await ok(`zb-send ${ds}@b | wc -c`)).out.trim()));
});

t.test('--json failure: the failure event names the stage, summary ok false; -v prints a line per snapshot', async (t) => {
  const s = schema();
  const p = pool(t), d = tmp(t), ds = `${p.name}/data`;
  await ok(`zfs create ${ds}`);
  fill(`${p.mnt}/data/a.bin`, 300_000); await ok(`zfs snapshot ${ds}@a`);
  const r = await sh(`zfsbackup --json -E --recipient notakey --dataset ${ds} directory --dest ${d} --prefix P`);
  t.not(r.code, 0, 'non-zero (the stage usage error: 2)');
  const ev = r.out.trim().split('\n').map(l => JSON.parse(l));
  check(t, ev, s);
  const err = ev.find(e => e.event === 'failure');
  t.equal(err?.stage, 'zb-encrypt', 'the stage that failed');
  t.equal(err?.snapshot, `${ds}@a`);
  t.same(ev.at(-1), { ...ev.at(-1), event: 'summary', ok: false, snapshots: 0 });
  t.equal(r.stderr.trim().split('\n').length, 1, 'and one line on stderr');
  const v = await ok(`zfsbackup -v -C --dataset ${ds} directory --dest ${d} --prefix Q`);
  t.match(v.stderr, new RegExp(`${ds}@a: \\d+ bytes sent in \\d+\\.\\d s \\([\\d.]+ MB/s\\), \\d+ bytes after the filters; Compressed \\d+ to \\d+ bytes \\(\\d+\\.\\d%\\)`));
});

t.test('the API: events as a user subscribes to them', async (t) => {
  const p = pool(t), d = tmp(t), ds = `${p.name}/data`;
  await ok(`zfs create ${ds}`);
  fill(`${p.mnt}/data/a.bin`, 300_000); await ok(`zfs snapshot ${ds}@a`);
  const b = new ZFSBackupDirectory(ds, d, {}, { prefix: 'P' });
  const seen: BackupEvent[] = [];
  b.on('event', (e: BackupEvent) => seen.push(e));
  let done: BackupEvent | undefined;
  b.on('done', (e: BackupEvent) => { done = e; });
  await b.backup();
  t.same(seen.map(e => e.event).filter(e => e !== 'progress'), ['start', 'snapshot', 'done', 'summary']);
  t.ok(done && done.event === 'done' && (done.bytes ?? 0) > 300_000, 'done carries the bytes sent');
});

t.test('restore tells its progress too: --json lines valid against the page, and the API\'s events', async (t) => {
  const s = schema();
  const p = pool(t), d = tmp(t), ds = `${p.name}/data`;
  await ok(`zfs create ${ds}`);
  fill(`${p.mnt}/data/a.bin`, 1_000_000, true); await ok(`zfs snapshot ${ds}@a`);
  fill(`${p.mnt}/data/b.bin`, 300_000); await ok(`zfs snapshot ${ds}@b`);
  await ok(`zfsbackup -C --dataset ${ds} directory --dest ${d} --prefix P`);
  const r = await ok(`zfsbackup --json -C --dataset ${ds} directory --dest ${d} --prefix P restore --to ${p.name}/back`);
  const ev = r.out.trim().split('\n').map(l => JSON.parse(l));
  check(t, ev, s);
  t.same(ev.filter(e => e.event !== 'progress').map(e => [e.event, e.snapshot, e.base ?? null]),
    [['snapshot', `${ds}@a`, null], ['done', `${ds}@a`, null], ['snapshot', `${ds}@b`, `${ds}@a`], ['done', `${ds}@b`, null]]);
  const sent = Number((await ok(`zb-send ${ds}@a | zb-count -q --json - 2>&1 >/dev/null | grep '"done"'`)).out.match(/"bytes":(\d+)/)![1]);
  t.equal(ev[1].bytes, sent, 'done: the bytes of the zfs stream received (the filters undone)');
  // the API: a restore that takes over a second (a slow command filter) ticks progress events
  const b = new ZFSBackupDirectory(ds, d, { filters: [new ZFSBackupFilterCommand({ name: 'slow', backupCommand: ['/bin/cat'] })] }, { prefix: 'Q' });
  await b.backup({ snapname: 'a' });
  const seen: BackupEvent[] = [];
  b.on('event', (e: BackupEvent) => seen.push(e));
  const back = await b.restore({ to: `${p.name}/api`, filters: [new ZFSBackupFilterCommand({ name: 'slow', backupCommand: ['/bin/cat'], restoreCommand: ['sh', '-c', 'sleep 1.5; exec cat'] })] });
  t.same(back.restored, ['a'], 'backup({ snapname }) stored only @a; restored');
  const prog = seen.filter(e => e.event === 'progress');
  t.ok(prog.length >= 1, `progress events while it ran (${prog.length})`);
  t.ok(prog.every(e => e.event === 'progress' && e.snapshot === `${ds}@a` && typeof e.bytes === 'number'), 'each names the snapshot, with bytes');
  const done = seen.find(e => e.event === 'done');
  t.equal(done?.event === 'done' ? done.bytes : null, sent, 'done carries the bytes received');
});
