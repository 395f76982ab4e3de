// The whole map is validated on read (zb-map(5)): every field of every entry, ours and the
// original tool's, every chunk name, every parent reference. A map that fails is never acted
// on; the first bad field is named as a path (tank/data.snapshots[2].chunks[0].sha256).
import { isAbsolute } from 'node:path';
import { ALGS } from '../filters/compress/algs.js';
import { FILTER_NAME } from '../stream/zb.js';

/** tank_data@daily-3.16426210467462247978.000, or with a run tag when that name was taken:
 *  tank_data@daily-3.16426210467462247978.r0badc0de.000 (dataset with / → _, snapshot,
 *  guid or t+time, sequence). */
export const CHUNK_RE = /^[^/\\\0]+@[^/\\\0]+\.(\d+|t\d+)(\.r[0-9a-f]{8})?\.\d{3,}$/;
const SHA256_RE = /^[0-9a-f]{64}$/;
const U64_RE = /^(0|[1-9]\d{0,19})$/;

type Obj = Record<string, unknown>;
class Bad extends Error {}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const has = (o: Obj, k: string) => Object.prototype.hasOwnProperty.call(o, k);
const u64 = (v: unknown) => typeof v === 'string' && U64_RE.test(v) && BigInt(v) < 2n ** 64n;
const count = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
/** Seconds since the epoch, within what a Date can hold. */
const time = (v: unknown) => typeof v === 'number' && v >= 0 && v <= 8.64e12;
const bool = (v: unknown) => typeof v === 'boolean';
const text = (v: unknown) => typeof v === 'string';
/** A snapshot name as zb-chunk-dir stores one: no @, / or NUL, not '.'-leading. */
const snapName = (v: unknown) => typeof v === 'string' && v !== '' && !/[@/\0]/.test(v) && !v.startsWith('.');
/** A dataset name: starts with a letter or digit; no @, no control characters, no empty component. */
export const datasetName = (k: string) => /^[A-Za-z0-9][^@\0-\x1f\x7f]*$/.test(k) && !k.endsWith('/') && !k.includes('//');

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return typeof v;
  const j = JSON.stringify(v);
  return `${typeof v === 'number' ? 'the number' : `the ${typeof v}`} ${j.length > 40 ? j.slice(0, 37) + '...' : j}`;
}
const seg = (k: string) => /^[A-Za-z_][\w-]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`;
const dsLabel = (k: string) => /^[\x21-\x7e]+$/.test(k) && !/["'\\]/.test(k) ? k : JSON.stringify(k);
function fail(path: string, what: string, v?: unknown, show = true): never {
  throw new Bad(`${path} ${what}${show ? ` (it is ${kindOf(v)})` : ''}`);
}
/** o[k] must pass ok (or be absent, when optional). */
function field(o: Obj, k: string, path: string, ok: (v: unknown) => boolean, what: string, optional = false): void {
  if (!has(o, k)) { if (optional) return; fail(`${path}${seg(k)}`, `is missing: it must be ${what}`, undefined, false); }
  if (!ok(o[k])) fail(`${path}${seg(k)}`, `is not ${what}`, o[k]);
}

function checkFilter(f: unknown, p: string): void {
  if (!isObj(f)) fail(p, 'is not a filter (an object with kind and alg)', f);
  field(f, 'kind', p, v => v === 'compress' || v === 'encrypt' || v === 'command', "'compress', 'encrypt' or 'command'");
  if (f.kind === 'command') field(f, 'alg', p, v => typeof v === 'string' && FILTER_NAME.test(v), 'a command filter name (letters, digits, . _ + -)');
  else if (f.kind === 'compress') {
    field(f, 'alg', p, v => (ALGS as unknown[]).includes(v), `a compression zb-compress knows (${ALGS.join(', ')})`);
    field(f, 'level', p, count, 'a compression level (a whole number)', true);
  } else {
    field(f, 'alg', p, v => v === 'age' || v === 'openssl', "an encryption zb-encrypt knows ('age' or 'openssl')");
    if (f.alg === 'age') field(f, 'mode', p, text, 'a string', true);
    else {
      field(f, 'cipher', p, v => typeof v === 'string' && /^[a-z0-9-]+$/i.test(v), 'a cipher name');
      field(f, 'kdf', p, v => v === 'evp' || v === 'pbkdf2', "'evp' or 'pbkdf2'", true);
      field(f, 'md', p, v => typeof v === 'string' && /^[a-z0-9-]+$/i.test(v), 'a digest name', true);
      field(f, 'iter', p, v => count(v) && (v as number) > 0, 'an iteration count (a whole number above 0)', true);
    }
  }
}

/** An entry as zb-chunk-dir writes it (the Entry interface of map.ts). */
function checkOurs(e: Obj, p: string): void {
  field(e, 'name', p, snapName, 'a snapshot name (a string without @ or /)');
  field(e, 'guid', p, v => v === '' || u64(v), 'a guid (a decimal string)');
  field(e, 'createtxg', p, u64, 'a createtxg (a decimal string)', true);
  field(e, 'creation', p, time, 'a creation time (seconds since the epoch)', true);
  field(e, 'incremental', p, bool, 'true or false');
  if (!has(e, 'parent')) fail(`${p}.parent`, 'is missing: it must be null or {name, guid}', undefined, false);
  const par = e.parent;
  if (par !== null) {
    if (!isObj(par)) fail(`${p}.parent`, 'is not null or {name, guid}', par);
    field(par, 'name', `${p}.parent`, v => v === '' || snapName(v), 'a snapshot name (a string without @ or /)');
    field(par, 'guid', `${p}.parent`, v => u64(v) && v !== '0', 'a guid (a decimal string)');
    if (par.guid === e.guid) fail(`${p}.parent.guid`, 'is the guid of the entry itself', undefined, false);
  }
  if (e.incremental && par === null) fail(`${p}.parent`, 'is null, but the entry is an incremental: its base must be {name, guid}', undefined, false);
  if (!e.incremental && par !== null) fail(`${p}.parent`, 'is set, but the entry is not an incremental (incremental: false)', undefined, false);
  field(e, 'intermediates', p, bool, 'true or false', true);
  field(e, 'recursive', p, bool, 'true or false');
  field(e, 'raw', p, bool, 'true or false', true);
  field(e, 'size', p, v => v === null || count(v), 'null or a size in bytes');
  field(e, 'filters', p, Array.isArray, 'a list of filters');
  (e.filters as unknown[]).forEach((f, i) => checkFilter(f, `${p}.filters[${i}]`));
  field(e, 'chunks', p, Array.isArray, 'a list of chunks');
  const seen = new Set<string>();
  (e.chunks as unknown[]).forEach((c, i) => {
    const q = `${p}.chunks[${i}]`;
    if (!isObj(c)) fail(q, 'is not a chunk ({name, size, sha256})', c);
    field(c, 'name', q, v => typeof v === 'string' && CHUNK_RE.test(v) && !v.startsWith('.'),
      'a chunk file name in chunks/ (DATASET@SNAP.GUID.NNN, no /)');
    if (seen.has(c.name as string)) fail(`${q}.name`, 'names a chunk file the entry already lists', undefined, false);
    seen.add(c.name as string);
    field(c, 'size', q, count, 'a size in bytes (a whole number)');
    field(c, 'sha256', q, v => typeof v === 'string' && SHA256_RE.test(v), 'a sha256 (64 hex digits)');
  });
  field(e, 'bytes', p, count, 'a size in bytes (a whole number)');
  for (const k of ['host', 'time']) field(e, k, p, text, 'a string', true);
  field(e, 'written', p, text, 'a time (a string)');
}

/** A chunk path of the original tool, as legacyChunkPath reads it. */
const legacyPath = (v: unknown) => typeof v === 'string' && v !== '' && !isAbsolute(v) && !v.includes('\0')
  && !v.split(/[\\/]/).some(c => c === '..') && !/[\\/]$/.test(v);
const argv = (v: unknown) => Array.isArray(v) && v.length > 0 && v.every(a => typeof a === 'string');

/** An entry of the original Python tool (LegacyEntry of map.ts). */
function checkLegacy(e: Obj, p: string): void {
  field(e, 'Name', p, snapName, 'a snapshot name (a string without @ or /)');
  field(e, 'CreationTime', p, time, 'a creation time (seconds since the epoch)', true);
  field(e, 'incremental', p, bool, 'true or false', true);
  field(e, 'parent', p, v => v === null || snapName(v), 'the name of the parent snapshot', true);
  if (e.incremental === true && !snapName(e.parent)) fail(`${p}.parent`, 'must name the parent snapshot of this incremental', e.parent, has(e, 'parent'));
  field(e, 'Recursive', p, bool, 'true or false', true);
  field(e, 'SizeEstimate', p, v => v === null || count(v), 'null or a size in bytes', true);
  field(e, 'chunks', p, Array.isArray, 'a list of chunk paths');
  (e.chunks as unknown[]).forEach((c, i) => { if (!legacyPath(c)) fail(`${p}.chunks[${i}]`, 'is not a path inside the backup directory', c); });
  field(e, 'filters', p, v => v === null || Array.isArray(v), 'a list of restore commands', true);
  ((e.filters ?? []) as unknown[]).forEach((f, i) => { if (!argv(f)) fail(`${p}.filters[${i}]`, 'is not a command (a list of strings)', f); });
}

function checkEntry(e: unknown, p: string): 'ours' | 'legacy' {
  if (!isObj(e)) fail(p, 'is not a snapshot entry (an object)', e);
  if (has(e, 'guid') || has(e, 'name')) { checkOurs(e, p); return 'ours'; }
  if (has(e, 'Name')) { checkLegacy(e, p); return 'legacy'; }
  fail(p, 'is not a snapshot entry: it has neither name nor Name', undefined, false);
}

function checkDataset(d: unknown, p: string): void {
  if (!isObj(d)) fail(p, 'is not a dataset\'s snapshots ({"snapshots": [...]} or {"SNAP": {...}})', d);
  let list: [unknown, string][];
  if (has(d, 'snapshots') && !(isObj(d.snapshots) && (has(d.snapshots, 'name') || has(d.snapshots, 'Name')))) {
    if (!Array.isArray(d.snapshots)) fail(`${p}.snapshots`, 'is not a list of snapshot entries', d.snapshots);
    list = d.snapshots.map((e, i) => [e, `${p}.snapshots[${i}]`]);
  } else list = Object.keys(d).map(k => [d[k], `${p}${seg(k)}`]);
  const guids = new Map<string, string>();
  for (const [e, q] of list) {
    if (checkEntry(e, q) !== 'ours') continue;
    const g = (e as Obj).guid as string;
    if (g === '') continue;
    const first = guids.get(g);
    if (first !== undefined) fail(`${q}.guid`, `is ${g}, the guid of ${first} too: a snapshot is stored once per dataset`, undefined, false);
    guids.set(g, q);
  }
}

/** The first problem of a parsed map, as 'PATH is not ...', or undefined when it is valid. */
export function mapProblem(doc: unknown, version: { key: string; max: number }): string | undefined {
  try {
    if (!isObj(doc)) fail('the map', 'is not a JSON object', doc);
    if (has(doc, version.key)) {
      const v = doc[version.key];
      if (!isObj(v)) fail(JSON.stringify(version.key), 'is not {"version": N}', v);
      field(v, 'version', JSON.stringify(version.key), x => Number.isSafeInteger(x) && (x as number) >= 1, 'a format version (a whole number from 1)');
    }
    for (const k of Object.keys(doc)) {
      if (k === version.key) continue;
      if (!datasetName(k)) fail(dsLabel(k), 'is not a dataset name (the top-level keys of a map are datasets)', undefined, false);
      checkDataset(doc[k], dsLabel(k));
    }
    return undefined;
  } catch (e) {
    if (e instanceof Bad) return e.message.replace(/[\0-\x1f\x7f\u2028\u2029]/g, ' ');
    throw e;
  }
}
