// A second ChunkStore, in memory, for the engine tests (test/store-engine.test.ts): the
// proof that the engine needs nothing of a directory. Like an object store it has no
// rename (publish copies), its abort is asynchronous, and whether a run is alive is a
// flag, not a pid. `reads` counts read() calls per key.
import type { ChunkSink, ChunkStore, RunInfo, Stat, StoreRun } from '../../dist/lib/index.js';

const later = (ms: number) => new Promise(r => setTimeout(r, ms));

export class MemoryStore implements ChunkStore {
  readonly where = 'mem://P';
  readonly mapName = 'mem://P/map.json';
  readonly prefix = 'P';
  map?: string;
  objects = new Map<string, Buffer>();
  made: MemRun[] = [];
  reads = new Map<string, number>();
  private held = false;

  async readMap(): Promise<string | undefined> { return this.map; }
  async writeMap(text: string): Promise<void> { await later(1); this.map = text; }
  async lock(waitSec: number): Promise<() => Promise<void>> {
    const until = Date.now() + waitSec * 1000;
    while (this.held) {
      if (Date.now() > until) throw new Error(`${this.where} is locked`);
      await later(5);
    }
    this.held = true;
    return async () => { this.held = false; };
  }
  async prepareWrite(): Promise<void> { /* nothing to make */ }
  async begin(_stem: string): Promise<StoreRun> { const r = new MemRun(this, this.made.length); this.made.push(r); return r; }
  async stat(key: string): Promise<Stat> {
    const b = this.objects.get(key);
    return b ? { kind: 'file', size: b.length } : { kind: 'missing' };
  }
  async *read(key: string, range: { start?: number; end?: number } = {}): AsyncIterable<Buffer> {
    this.reads.set(key, (this.reads.get(key) ?? 0) + 1);
    const b = this.objects.get(key);
    if (!b) throw new Error(`no object '${key}'`);
    const end = Math.min(range.end ?? b.length, b.length);
    for (let i = range.start ?? 0; i < end; i += 256 << 10) { await later(0); yield Buffer.from(b.subarray(i, Math.min(i + (256 << 10), end))); }
  }
  async list(): Promise<string[]> {
    return [...this.objects.keys()].filter(k => k.startsWith('chunks/')).map(k => k.slice(7));
  }
  async remove(key: string): Promise<void> { this.objects.delete(key); }
  async runs(): Promise<RunInfo[]> {
    return this.made.filter(r => !r.gone).map(r => ({
      name: `runs/${r.id}`, state: r.dead ? 'failed' as const : 'running' as const, who: `run ${r.id}`, listed: r.marker,
      remove: async () => { r.gone = true; return true; },
    }));
  }
}

export class MemRun implements StoreRun {
  staged = new Map<string, Buffer[]>();
  marker?: string[];
  published: string[] = [];
  dead = false;
  gone = false;
  constructor(private st: MemoryStore, readonly id: number) {}
  async create(name: string): Promise<ChunkSink> {
    const parts: Buffer[] = [];
    this.staged.set(name, parts);
    return { write: async (b) => { await later(0); parts.push(Buffer.from(b)); }, close: async () => { /* durable */ } };
  }
  async publish(names: string[]): Promise<string[]> {
    const others = new Set(this.st.made.filter(r => r !== this && !r.gone).flatMap(r => r.marker ?? []));
    const taken = names.some(n => this.st.objects.has(`chunks/${n}`) || others.has(n));
    const final = names.map(n => taken ? n.replace(/(\.\d{3,})$/, `.rmem${this.id}$1`) : n);
    this.marker = final;
    names.forEach((n, i) => { this.st.objects.set(`chunks/${final[i]}`, Buffer.concat(this.staged.get(n)!)); this.published.push(final[i]); });
    this.staged.clear();
    return final;
  }
  async abort(): Promise<void> {
    await later(10);   // an object store's deletes take a while
    for (const n of this.published.splice(0)) this.st.objects.delete(`chunks/${n}`);
    this.staged.clear();
    this.gone = true;
  }
  async done(): Promise<void> { this.gone = true; }
}
