// The chunk-store engine (lib/store/) against three stores, table-driven: the directory store,
// an in-memory one (test/lib/memory-store.ts) and the S3 store on a real s3rver. The same cases, the same expectations:
// the seam is real when the engine keeps every promise on a store that is not a directory.
// In process, through the package's exports; streams are files of a few MiB.
import t from 'tap';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { DirStore, S3Store, ZbReader, ZbWriter, chainProblem, emit, readMap, storeStream, verifyStore, type ChunkStore, type Meta } from '../dist/lib/index.js';
import { MemoryStore } from './lib/memory-store.js';
import { tmp } from './lib/util.js';
import { objectFile, s3rver, S3ENV } from './lib/s3.js';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';

Object.assign(process.env, S3ENV);
const server = await s3rver(t);

/** Counts GETs (read() calls) per key, and knows the marker of the run begun last. */
class CountingS3 extends S3Store {
  reads = new Map<string, number>();
  last?: string;
  read(key: string, range?: { start?: number; end?: number }): AsyncIterable<Buffer> {
    this.reads.set(key, (this.reads.get(key) ?? 0) + 1);
    return super.read(key, range);
  }
  async begin(stem: string) { const r: any = await super.begin(stem); this.last = r.markerKey; return r; }
}

class CountingDir extends DirStore {
  reads = new Map<string, number>();
  read(key: string, range?: { start?: number; end?: number }): AsyncIterable<Buffer> {
    this.reads.set(key, (this.reads.get(key) ?? 0) + 1);
    return super.read(key, range);
  }
}

/** A store and what a test does to it behind the engine's back. */
interface Kit {
  st: ChunkStore; reads: Map<string, number>; dir: string;
  /** flip a byte of an object */
  corrupt(key: string, at: number): void | Promise<void>;
  /** put an object there that no run made */
  put(key: string, b: Buffer): void | Promise<void>;
  /** the run begun last dies (its process, for a directory and S3) */
  kill(): void | Promise<void>;
}

const KINDS: Record<string, (t: any) => Kit> = {
  directory: (t) => {
    const dir = tmp(t), st = new CountingDir(dir, 'P'), root = join(dir, 'P');
    return {
      st, reads: st.reads, dir,
      corrupt: (key, at) => { const p = join(root, key), b = readFileSync(p); b[at] ^= 1; writeFileSync(p, b); },
      put: (key, b) => { mkdirSync(join(root, 'chunks'), { recursive: true }); writeFileSync(join(root, key), b); },
      kill: () => {
        const dead = spawnSync('true').pid!;
        const cdir = join(root, 'chunks'), mine = readdirSync(cdir).find(f => f.startsWith(`.zb-partial.${hostname()}.${process.pid}.`))!;
        renameSync(join(cdir, mine), join(cdir, mine.replace(`.${process.pid}.`, `.${dead}.`)));
      },
    };
  },
  memory: (t) => {
    const st = new MemoryStore();
    return {
      st, reads: st.reads, dir: tmp(t),
      corrupt: (key, at) => { st.objects.get(key)![at] ^= 1; },
      put: (key, b) => { st.objects.set(key, b); },
      kill: () => { st.made.at(-1)!.dead = true; },
    };
  },
  s3: (t) => {
    const prefix = `P${n++}`, st = new CountingS3({ bucket: 'engine', prefix, server: server.url, chunkSize: 1 << 20, glacierDays: 0 });
    return {
      st, reads: st.reads, dir: tmp(t),
      corrupt: (key, at) => { const p = objectFile(server, 'engine', `${prefix}/${key}`), b = readFileSync(p); b[at] ^= 1; writeFileSync(p, b); },
      put: async (key, b) => { await st.prepareWrite(); await st.c.send(new PutObjectCommand({ Bucket: 'engine', Key: `${prefix}/${key}`, Body: b })); },
      kill: async () => {
        const m = JSON.parse(await (await st.c.send(new GetObjectCommand({ Bucket: 'engine', Key: st.last! }))).Body!.transformToString());
        m.pid = spawnSync('true').pid;
        await st.c.send(new PutObjectCommand({ Bucket: 'engine', Key: st.last!, Body: JSON.stringify(m) }));
      },
    };
  },
};

const meta = (snapshot: string, guid: string, base: { name: string; guid: string } | null = null): Meta =>
  ({ dataset: 'tank/data', snapshot, guid, base, filters: [], host: 'h', time: '2026-12-01T00:00:00Z' });

let n = 0;
/** A zb stream file (cut: without its end frame). */
async function streamFile(dir: string, m: Meta, payload: Buffer, cut = false): Promise<string> {
  const p = join(dir, `in-${n++}`), fd = openSync(p, 'w');
  const w = new ZbWriter(fd, m);
  for (let i = 0; i < payload.length; i += 65536) await w.write(payload.subarray(i, i + 65536));
  if (!cut) await w.end(); else await w.start();
  closeSync(fd);
  return p;
}

async function store(k: Kit, file: string, chunkSize = 1 << 20): Promise<string> {
  const fd = openSync(file, 'r');
  try { return await storeStream(k.st, { chunkSize, lockWait: 5, input: fd }); } finally { closeSync(fd); }
}

/** emit into a file: its bytes, and the error, if any. */
async function out(k: Kit, target: string, o: { raw?: boolean; guid?: string } = {}): Promise<{ bytes: Buffer; error?: Error }> {
  const p = join(k.dir, `out-${n++}`), fd = openSync(p, 'w');
  let error: Error | undefined;
  try { await emit(k.st, { target, output: fd, ...o }); } catch (e: any) { error = e; } finally { closeSync(fd); }
  return { bytes: readFileSync(p), error };
}

/** The payload of a zb stream file, or the reader's error. */
async function payloadOf(bytes: Buffer, dir: string): Promise<Buffer | Error> {
  const p = join(dir, `rd-${n++}`);
  writeFileSync(p, bytes);
  const fd = openSync(p, 'r'), parts: Buffer[] = [];
  try { const r = await ZbReader.open(fd); for await (const b of r.payload()) parts.push(Buffer.from(b)); return Buffer.concat(parts); }
  catch (e: any) { return e; } finally { closeSync(fd); }
}

const chunkNames = async (st: ChunkStore) => (await st.list()).filter(f => !f.startsWith('.')).sort();

for (const [kind, make] of Object.entries(KINDS)) {
  t.test(`${kind}: store in chunks, emit back: identical, each chunk read exactly once`, async (t) => {
    const k = make(t), data = randomBytes((3 << 20) + 12345);
    const msg = await store(k, await streamFile(k.dir, meta('s1', '11'), data));
    t.match(msg, /^stored tank\/data@s1: 4 chunk\(s\), 3158073 bytes in/);
    const e = (await readMap(k.st))['tank/data'].snapshots[0];
    t.same(e.chunks.map((c: any) => c.size), [1 << 20, 1 << 20, 1 << 20, 12345]);
    const raw = await out(k, 'tank/data@s1', { raw: true });
    t.equal(raw.error, undefined);
    t.ok(raw.bytes.equals(data), 'payload identical');
    t.same([...k.reads.values()], [1, 1, 1, 1], 'a restore reads each chunk once');
    t.same([...k.reads.keys()], e.chunks.map((c: any) => `chunks/${c.name}`));
    const z = await out(k, 'tank/data', { guid: '11' });
    const p = await payloadOf(z.bytes, k.dir);
    t.ok(Buffer.isBuffer(p) && p.equals(data), 'as a zb stream too, ended');
    t.same(await chunkNames(k.st), e.chunks.map((c: any) => c.name).sort(), 'nothing else in the store');
    t.same(await k.st.runs(), [], 'no run left');
  });

  t.test(`${kind}: the same guid again is not stored again; the map is unchanged`, async (t) => {
    const k = make(t), f = await streamFile(k.dir, meta('s1', '11'), randomBytes(100_000));
    await store(k, f);
    const before = await k.st.readMap();
    t.match(await store(k, f), /is already stored in .*; nothing written$/);
    t.equal(await k.st.readMap(), before);
    t.equal((await chunkNames(k.st)).length, 1);
  });

  t.test(`${kind}: a cut stream commits nothing and leaves nothing (abort awaited)`, async (t) => {
    const k = make(t);
    await store(k, await streamFile(k.dir, meta('s1', '11'), randomBytes(50_000)));
    const before = await k.st.readMap(), chunks = await chunkNames(k.st);
    await t.rejects(store(k, await streamFile(k.dir, meta('s2', '22'), randomBytes(3 << 20), true)), /incomplete/);
    t.equal(await k.st.readMap(), before, 'map unchanged');
    t.same(await chunkNames(k.st), chunks, 'no chunk of the cut run');
    t.same(await k.st.runs(), [], 'no run left');
  });

  t.test(`${kind}: a corrupt chunk: emit stops before its last piece and the end; verify names it`, async (t) => {
    const k = make(t), data = randomBytes(3 << 20);
    await store(k, await streamFile(k.dir, meta('s1', '11'), data), 2 << 20);
    const e = (await readMap(k.st))['tank/data'].snapshots[0];
    await k.corrupt(`chunks/${e.chunks[0].name}`, 5);
    const z = await out(k, 'tank/data');
    t.match(z.error?.message, new RegExp(`^tank/data@s1: chunk '${e.chunks[0].name}' is corrupt \\(sha256 [0-9a-f]{64}, the map says ${e.chunks[0].sha256}\\); the stream stops before the chunk's last \\d+ bytes and its end: nothing receives it$`));
    t.match(String(await payloadOf(z.bytes, k.dir)), /incomplete/, 'what went out is a cut stream');
    t.equal(k.reads.get(`chunks/${e.chunks[0].name}`), 1, 'read once');
    // the payload, not the framed stream (a store of small pieces adds a frame header to each)
    const raw = await out(k, 'tank/data', { raw: true });
    t.ok(raw.bytes.length < (2 << 20), `the chunk did not go out whole (${raw.bytes.length} of ${2 << 20} bytes)`);
    const v = await verifyStore(k.st);
    t.same(v.problems, [`tank/data@s1: chunk '${e.chunks[0].name}' is corrupt (sha256 ${v.problems[0]?.match(/sha256 ([0-9a-f]{64})/)?.[1]}, the map says ${e.chunks[0].sha256})`]);
  });

  t.test(`${kind}: a missing chunk: emit writes nothing; the chain is broken; verify says so`, async (t) => {
    const k = make(t);
    await store(k, await streamFile(k.dir, meta('s1', '11'), randomBytes(1500_000)));
    await store(k, await streamFile(k.dir, meta('s2', '22', { name: 's1', guid: '11' }), randomBytes(200_000)));
    const doc = await readMap(k.st), [full, inc] = doc['tank/data'].snapshots;
    t.equal(await chainProblem(k.st, doc, 'tank/data', inc), undefined, 'intact at first');
    await k.st.remove(`chunks/${full.chunks[1].name}`);
    t.equal(await chainProblem(k.st, doc, 'tank/data', inc), `chunk '${full.chunks[1].name}' of tank/data@s1 is missing`);
    const z = await out(k, 'tank/data@s1');
    t.match(z.error?.message, /is missing$/);
    t.equal(z.bytes.length, 0, 'not a byte');
    t.same(k.reads.size, 0, 'no chunk read');
    const v = await verifyStore(k.st, 'tank/data');
    t.match(v.problems, [/is missing/]);
    t.equal(v.snapshots, 2);
  });

  t.test(`${kind}: a failed run's published chunks go at the next backup; a chunk nobody listed stays`, async (t) => {
    const k = make(t);
    await store(k, await streamFile(k.dir, meta('s1', '11'), randomBytes(10_000)));
    const run = await k.st.begin('x'), sink = await run.create('tank_data@dead.9.000');
    await sink.write(randomBytes(1000)); await sink.close();
    const [dead] = await run.publish(['tank_data@dead.9.000']);
    t.ok((await chunkNames(k.st)).includes(dead), 'published');
    await k.put('chunks/other_data@x.1.000', Buffer.from('not ours'));
    await k.kill();
    t.match((await verifyStore(k.st)).notes.join('\n'), /was published by a failed backup and is not in the map: the next backup removes it/);
    await store(k, await streamFile(k.dir, meta('s2', '22', { name: 's1', guid: '11' }), randomBytes(10_000)));
    const names = await chunkNames(k.st);
    t.notOk(names.includes(dead), 'the failed run\'s chunk is gone');
    t.ok(names.includes('other_data@x.1.000'), 'a chunk no marker lists is kept');
    t.same(await k.st.runs(), [], 'the failed run is gone');
    t.match((await verifyStore(k.st)).notes, [/'chunks\/other_data@x.1.000' is not in the map; zfsbackup does not delete it/]);
  });

  t.test(`${kind}: two writers at once both commit`, async (t) => {
    const k = make(t);
    const [a, b] = await Promise.all([streamFile(k.dir, meta('a', '1'), randomBytes(2 << 20)), streamFile(k.dir, meta('b', '2'), randomBytes(2 << 20))]);
    const r = await Promise.all([store(k, a), store(k, b)]);
    t.match(r, [/^stored/, /^stored/]);
    t.same((await readMap(k.st))['tank/data'].snapshots.map((e: any) => e.name).sort(), ['a', 'b']);
    t.same((await verifyStore(k.st)).problems, []);
  });

  t.test(`${kind}: a map that does not validate is refused; nothing changes`, async (t) => {
    const k = make(t);
    await k.st.prepareWrite();
    const bad = JSON.stringify({ 'tank/data': { snapshots: [{ name: 'x', guid: '1', chunks: 'no' }] } });
    await k.st.writeMap(bad);
    await t.rejects(store(k, await streamFile(k.dir, meta('s1', '11'), randomBytes(10_000))), /nothing was changed/);
    t.equal(await k.st.readMap(), bad);
    t.same(await chunkNames(k.st), []);
    t.rejects(out(k, 'tank/data').then(o => { if (o.error) throw o.error; }), /nothing was changed/);
  });
}
