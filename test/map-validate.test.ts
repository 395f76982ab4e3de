// The map reader fuzzed: real maps of both formats (one of ours written by a real backup
// through the binaries, the original tool's fixtures), mutated by a seeded PRNG. Every mutant
// is either accepted, and then every entry has the types the code relies on, or refused
// with a ZbError of one line; nothing else is ever thrown. ZB_FUZZ_SEED=N replays a run.
import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ok, pool, fill, tmp, ROOT } from './lib/util.js';

const map = await import(join(ROOT, 'dist/lib/store/map.js'));
const { ZbError } = await import(join(ROOT, 'dist/lib/errors.js'));
const { rowOf } = await import(join(ROOT, 'dist/lib/store/list.js'));

/** mulberry32: small, seedable, good enough to pick mutations. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(xs: T[]): T => xs[Math.floor(next() * xs.length)] };
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const VALUES: Json[] = [null, [], {}, 0, -1, 1.5, 1e308, 2 ** 64, 9007199254740993, '', 'x', '12345', '../x', 'a/b', '.hidden',
  'x'.repeat(200), 'line\nbreak', true, false, { name: 'x' }, [{}], ['a']];
const KEYS = ['name', 'Name', 'guid', 'snapshots', 'chunks', 'parent', 'incremental', '__proto__', '@zfsbackup', 'constructor', 'x'];

/** Every [container, key] in a JSON value, the root's children first. */
function slots(v: Json, out: [any, string | number][] = []): [any, string | number][] {
  if (Array.isArray(v)) v.forEach((x, i) => { out.push([v, i]); slots(x, out); });
  else if (v && typeof v === 'object') for (const k of Object.keys(v)) { out.push([v, k]); slots(v[k], out); }
  return out;
}

/** One to three mutations of the document (a deep copy), or a cut of its text. */
function mutate(text: string, r: ReturnType<typeof prng>): { text: string; how: string } {
  if (r.int(10) === 0) { const n = r.int(text.length); return { text: text.slice(0, n), how: `truncated at ${n}` }; }
  const doc = JSON.parse(text) as Json;
  const hows: string[] = [];
  for (let m = 1 + r.int(3); m > 0; m--) {
    const all = slots(doc);
    if (!all.length) break;
    const [c, k] = r.pick(all);
    switch (r.int(5)) {
      case 0: Array.isArray(c) ? c.splice(k as number, 1) : delete c[k]; hows.push(`delete ${k}`); break;
      case 1: case 2: { const v = r.pick(VALUES); c[k] = JSON.parse(JSON.stringify(v)); hows.push(`${k} = ${JSON.stringify(v)}`); break; }
      case 3: if (Array.isArray(c)) { c.push(JSON.parse(JSON.stringify(c[k]))); hows.push(`duplicate [${k}]`); }
        else { const to = r.pick(KEYS); Object.defineProperty(c, to, { value: c[k], enumerable: true, writable: true, configurable: true });
          if (to !== k) delete c[k]; hows.push(`rename ${k} -> ${to}`); }
        break;
      default: if (Array.isArray(c)) { c.splice(r.int(c.length + 1), 0, JSON.parse(JSON.stringify(r.pick(c)))); hows.push(`duplicate an element`); }
        else { c[`${String(k)}-copy`] = JSON.parse(JSON.stringify(c[k])); hows.push(`copy ${k}`); }
    }
  }
  return { text: JSON.stringify(doc, null, r.int(2) ? 2 : 0), how: hows.join('; ') };
}

const isU = (v: unknown) => v === undefined;
const str = (v: unknown) => typeof v === 'string';
const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
/** What the code relies on for an accepted map: the problem, or '' when every entry holds. */
function shapeProblem(doc: any): string {
  for (const ds of map.datasets(doc)) {
    for (const e of map.entries(doc, ds)) {
      if (!e || typeof e !== 'object') return `${ds}: an entry is not an object`;
      if (map.isLegacy(e)) {
        if (!str(e.Name) || !Array.isArray(e.chunks) || !e.chunks.every(str)) return `${ds}@${e.Name}: Name/chunks`;
        if (!(isU(e.filters) || e.filters === null || (Array.isArray(e.filters) && e.filters.every((f: unknown) => Array.isArray(f) && f.every(str)))))
          return `${ds}@${e.Name}: filters`;
        if (e.incremental && !str(e.parent)) return `${ds}@${e.Name}: parent`;
        if (!(isU(e.CreationTime) || num(e.CreationTime))) return `${ds}@${e.Name}: CreationTime`;
      } else {
        if (!str(e.name) || !str(e.guid) || typeof e.incremental !== 'boolean' || typeof e.recursive !== 'boolean') return `${ds}: name/guid/flags`;
        if (!(e.parent === null || (str(e.parent?.name) && str(e.parent?.guid))) || e.incremental !== (e.parent !== null)) return `${ds}@${e.name}: parent`;
        if (!Array.isArray(e.chunks) || !e.chunks.every((c: any) => str(c?.name) && !c.name.includes('/') && !c.name.startsWith('.')
          && Number.isSafeInteger(c.size) && c.size >= 0 && /^[0-9a-f]{64}$/.test(c.sha256))) return `${ds}@${e.name}: chunks`;
        if (!Array.isArray(e.filters) || !e.filters.every((f: any) => str(f?.kind) && str(f?.alg))) return `${ds}@${e.name}: filters`;
        if (!num(e.bytes) || !(e.size === null || num(e.size)) || !(isU(e.creation) || num(e.creation))) return `${ds}@${e.name}: numbers`;
      }
    }
    const guids = map.entries(doc, ds).filter((e: any) => !map.isLegacy(e) && e.guid).map((e: any) => e.guid);
    if (new Set(guids).size !== guids.length) return `${ds}: a guid twice`;
  }
  return '';
}

/** Use an accepted map the way the commands do; only ZbErrors (a broken chain) may come out. */
function exercise(doc: any): void {
  map.referenced(doc);
  for (const ds of map.datasets(doc)) for (const e of map.entries(doc, ds)) {
    rowOf(ds, e, false);
    if (!map.isLegacy(e)) map.metaOf(ds, e);
    try { map.restoreChain(doc, ds, e); } catch (err) { if (!(err instanceof ZbError)) throw err; }
  }
  // a valid map with one more valid entry is still valid
  map.addEntry(doc, 'fuzz/added', { name: 'n', guid: '42', incremental: false, parent: null, recursive: false, size: null,
    filters: [], chunks: [], bytes: 0, written: 'now' });
  map.parseMap(JSON.stringify(doc), 'readded');
}

t.test('mutated maps of both formats: accepted with sound entries, or refused in one line; nothing else', async (t) => {
  const p = pool(t), d = tmp(t), ds = `${p.name}/data`;
  await ok(`zfs create ${ds}`);
  fill(`${p.mnt}/data/a.bin`, 300_000);
  await ok(`zfs snapshot ${ds}@s1`);
  fill(`${p.mnt}/data/b.bin`, 100_000);
  await ok(`zfs snapshot ${ds}@s2`);
  const pub = (await ok(`age-keygen -o ${d}/key 2>&1 | sed -n 's/^Public key: //p'`)).out.trim();
  await ok(`zfsbackup -C -E --recipient ${pub} --dataset ${ds} directory --dest ${d} --prefix P --chunk-size 128K`);
  const ours = readFileSync(join(d, 'P/map.json'), 'utf8');
  const fix = join(ROOT, 'test/fixtures/legacy');
  const maps: [string, string][] = [['ours', ours], ...readdirSync(fix).filter(f => f.endsWith('.json'))
    .map((f): [string, string] => [f, readFileSync(join(fix, f), 'utf8')])];
  for (const [name, text] of maps) {
    const doc = map.parseMap(text, name);
    t.equal(shapeProblem(doc), '', `${name} as written is accepted`);
  }
  t.ok(map.entries(map.parseMap(ours), ds).length >= 2 && map.entries(map.parseMap(ours), ds)[0].chunks.length >= 2, 'our map has entries with several chunks');

  const seed = Number(process.env.ZB_FUZZ_SEED ?? Date.now() % 2 ** 31), r = prng(seed), N = 4000, start = Date.now();
  t.comment(`seed ${seed} (ZB_FUZZ_SEED=${seed} replays this run)`);
  let accepted = 0, refused = 0;
  const failures: string[] = [];
  for (let i = 0; i < N && failures.length < 5; i++) {
    const [name, text] = maps[i % maps.length];
    const m = mutate(text, r);
    let doc: any;
    try { doc = map.parseMap(m.text, '/d/P/map.json'); } catch (err: any) {
      if (!(err instanceof ZbError)) failures.push(`${name} [${m.how}]: threw ${err?.constructor?.name}: ${err?.message}`);
      else if (/[\n\r]/.test(err.message) || !err.message.includes('/d/P/map.json')) failures.push(`${name} [${m.how}]: message ${JSON.stringify(err.message)}`);
      else refused++;
      continue;
    }
    accepted++;
    const bad = shapeProblem(doc);
    if (bad) { failures.push(`${name} [${m.how}]: accepted, but ${bad}`); continue; }
    try { exercise(doc); } catch (err: any) { failures.push(`${name} [${m.how}]: accepted, then ${err?.constructor?.name}: ${err?.message}`); }
  }
  t.same(failures, [], `seed ${seed}: no mutant breaks the rule`);
  t.ok(accepted > 50 && refused > 500, `both outcomes are exercised (${accepted} accepted, ${refused} refused)`);
  t.ok(Date.now() - start < 20_000, `bounded: ${N} mutants in ${Date.now() - start} ms`);
});

t.test('the refusal names the first bad field as a path', async (t) => {
  const good = (more: object = {}) => ({ name: 's1', guid: '11', incremental: false, parent: null, recursive: false, size: null,
    filters: [], chunks: [{ name: 'tank_data@s1.11.000', size: 3, sha256: 'a'.repeat(64) }], bytes: 3, written: 'w', ...more });
  const cases: [string, object, RegExp][] = [
    ['"snapshots": "oops"', { 'tank/data': { snapshots: 'oops' } }, /tank\/data\.snapshots is not a list of snapshot entries \(it is the string "oops"\)/],
    ['keyed by name, a bad entry', { 'tank/data': { s1: good(), s2: good({ name: 's2', guid: 12 }) } }, /tank\/data\.s2\.guid is not a guid \(a decimal string\) \(it is the number 12\)/],
    ['an entry without a chunk list', { 'tank/data': { snapshots: [good({ chunks: undefined })] } }, /tank\/data\.snapshots\[0\]\.chunks is missing/],
    ['a chunk name with /', { 'tank/data': { snapshots: [good({ chunks: [{ name: 'x/tank_data@s1.11.000', size: 3, sha256: 'a'.repeat(64) }] })] } },
      /tank\/data\.snapshots\[0\]\.chunks\[0\]\.name is not a chunk file name/],
    ['a sha256 of 63 digits', { 'tank/data': { snapshots: [good({ chunks: [{ name: 'tank_data@s1.11.000', size: 3, sha256: 'a'.repeat(63) }] })] } },
      /tank\/data\.snapshots\[0\]\.chunks\[0\]\.sha256 is not a sha256 \(64 hex digits\)/],
    ['a guid twice', { 'tank/data': { snapshots: [good(), good({ name: 's1b' })] } }, /tank\/data\.snapshots\[1\]\.guid is 11, the guid of tank\/data\.snapshots\[0\] too/],
    ['an incremental without a base', { 'tank/data': { snapshots: [good({ incremental: true })] } }, /tank\/data\.snapshots\[0\]\.parent is null, but the entry is an incremental/],
    ['a base without a guid', { 'tank/data': { snapshots: [good({ incremental: true, parent: { name: 's0' } })] } }, /tank\/data\.snapshots\[0\]\.parent\.guid is missing/],
    ['an original-tool incremental without a parent', { 'tank/data': { snapshots: [{ Name: 'd1', chunks: [], incremental: true }] } },
      /tank\/data\.snapshots\[0\]\.parent must name the parent snapshot/],
    ['an original-tool chunk path with ..', { 'tank/data': { snapshots: [{ Name: 'd1', chunks: ['../x'] }] } }, /tank\/data\.snapshots\[0\]\.chunks\[0\] is not a path inside the backup directory/],
    ['a filter zb does not know', { 'tank/data': { snapshots: [good({ filters: [{ kind: 'compress', alg: 'brotli' }] })] } }, /tank\/data\.snapshots\[0\]\.filters\[0\]\.alg is not a compression zb-compress knows/],
  ];
  for (const [what, doc, re] of cases) {
    let msg = '';
    try { map.parseMap(JSON.stringify(doc), '/d/P/map.json'); } catch (e: any) { msg = e instanceof ZbError ? e.message : `not a ZbError: ${e}`; }
    t.match(msg, /^'\/d\/P\/map\.json': .*: fix or restore the map; nothing was changed$/, `${what}: refused in one line`);
    t.match(msg, re, `${what}: names the field`);
  }
  const broken = { 'tank/data': { snapshots: [good({ name: 's2', guid: '12', incremental: true, parent: { name: 's1', guid: '11' } })] } };
  t.doesNotThrow(() => map.parseMap(JSON.stringify(broken)), 'a well-formed parent absent from the map is a broken chain, not an invalid map');
});
