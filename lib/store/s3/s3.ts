// The S3 store: s3://BUCKET/PREFIX/map.json, PREFIX/chunks/ (the chunks, uploaded as
// multipart objects by run.ts), PREFIX/runs/ (run markers), PREFIX/map.json.lock (lock.ts).
// The map is written with one PutObject, conditional on the ETag read under the lock
// (If-Match; If-None-Match: * for a new map) where the server honours it.
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command,
  PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { hostname } from 'node:os';
import { UsageError, ZbError } from '../../errors.js';
import { prog } from '../../cli/command.js';
import { alive } from '../../os/proc.js';
import { client, getText, notFound, partSize, s3Error, status, type S3Options } from './client.js';
import { lock } from './lock.js';
import { removeRun, S3Run, STALE_MS, type Marker } from './run.js';
import { abortUploads } from './uploads.js';
import { lifecycle, restoreArchived } from './glacier.js';
import type { ChunkStore, RunInfo, Stat, StoreRun } from '../store.js';

export class S3Store implements ChunkStore {
  readonly where: string;
  readonly mapName: string;
  readonly prefix: string;
  readonly c: S3Client;
  readonly bucket: string;
  /** PREFIX/ */
  readonly base: string;
  private etag: string | null | undefined;   // of the map last read (null: there was none)
  private part: number;
  private warned = 0;
  private quiet?: S3Client;   // for chunk GETs: see read()
  constructor(readonly o: S3Options & { chunkSize: number }) {
    if (!o.bucket || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(o.bucket)) throw new UsageError(`invalid bucket name '${o.bucket}'`);
    if (!o.prefix || o.prefix.split('/').some(c => c === '..' || c === '' || c === '.')) throw new UsageError(`invalid prefix '${o.prefix}'`);
    this.part = partSize(o.chunkSize, o.partSize, o.maxParts ?? 10_000);
    this.bucket = o.bucket; this.prefix = o.prefix; this.base = `${o.prefix}/`;
    this.where = `s3://${o.bucket}/${o.prefix}`;
    this.mapName = `${this.where}/map.json`;
    this.c = client(o);
  }

  async readMap(): Promise<string | undefined> {
    let got;
    try { got = await getText(this.c, this.bucket, `${this.base}map.json`); } catch (e) { throw s3Error(e, `cannot read '${this.mapName}'`); }
    this.etag = got ? got.etag ?? null : null;
    return got?.text;
  }

  /** Ceph radosgw (Pacific) compares If-Match with the ETag unquoted and refuses the quoted
   *  form that AWS takes: when the map's ETag is still the one read, the unquoted form is tried. */
  async writeMap(text: string): Promise<void> {
    const put = (cond: object) => this.c.send(new PutObjectCommand({ Bucket: this.bucket, Key: `${this.base}map.json`, Body: text, ContentType: 'application/json', ...cond }));
    const cond = this.etag ? { IfMatch: this.etag } : this.etag === null ? { IfNoneMatch: '*' } : {};
    const refused = (e: unknown) => status(e) === 412 || status(e) === 409;
    const changed = () => new ZbError(`the map '${this.mapName}' changed since it was read (another writer): nothing committed`);
    try { this.etag = (await put(cond)).ETag; return; } catch (e) {
      if (!refused(e)) throw s3Error(e, `cannot write the map '${this.mapName}'`);
      if (!this.etag || !this.etag.startsWith('"')) throw changed();
    }
    const now = await this.c.send(new HeadObjectCommand({ Bucket: this.bucket, Key: `${this.base}map.json` })).catch(() => undefined);
    if (now?.ETag !== this.etag) throw changed();
    try { this.etag = (await put({ IfMatch: this.etag.replace(/"/g, '') })).ETag; } catch (e) {
      throw refused(e) ? changed() : s3Error(e, `cannot write the map '${this.mapName}'`);
    }
  }

  lock(waitSec: number): Promise<() => Promise<void>> { return lock(this.c, this.bucket, `${this.base}map.json.lock`, waitSec); }

  /** The bucket (made when missing), this prefix's lifecycle rules, stale multipart uploads gone. */
  async prepareWrite(): Promise<void> {
    try { await this.c.send(new HeadBucketCommand({ Bucket: this.bucket })); } catch (e) {
      if (!notFound(e)) throw s3Error(e, `cannot reach bucket '${this.bucket}'`);
      const region = this.o.region && this.o.region !== 'us-east-1' ? { CreateBucketConfiguration: { LocationConstraint: this.o.region as any } } : {};
      await this.c.send(new CreateBucketCommand({ Bucket: this.bucket, ...region })).catch((e2) => {
        if (e2?.name !== 'BucketAlreadyOwnedByYou') throw s3Error(e2, `cannot create bucket '${this.bucket}'`);
      });
    }
    const warn = await lifecycle(this.c, this.bucket, this.prefix, this.o.glacierDays ?? 1);
    if (warn && (this.o.glacierDays ?? 1) > 0 && !this.warned++) process.stderr.write(`${prog}: warning: ${warn}\n`);
    const live = new Set((await this.markers()).filter(r => r.state !== 'failed').flatMap(r => r.m?.chunks ?? []).map(n => `${this.base}chunks/${n}`));
    await abortUploads(this.c, this.bucket, this.base, (k, at) => !live.has(k) && (!at || Date.now() - at.getTime() > STALE_MS));
  }

  async begin(_stem: string): Promise<StoreRun> {
    const r = new S3Run({ c: this.c, bucket: this.bucket, base: this.base, partSize: this.part, concurrency: this.o.concurrency ?? 4, storageClass: this.o.storageClass });
    await r.start();
    return r;
  }

  async stat(key: string): Promise<Stat> {
    try {
      const h = await this.c.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.base + key }));
      return { kind: 'file', size: h.ContentLength ?? 0 };
    } catch (e) { if (notFound(e)) return { kind: 'missing' }; throw s3Error(e, `cannot check '${this.where}/${key}'`); }
  }

  /** One GetObject (a Range when asked); its body's pieces as they come. The server is timed
   *  only while this waits for it: the SDK's idle timer would also count the time the caller
   *  takes with a piece (a zfs receive busy for a minute) as the server's silence. */
  async *read(key: string, range: { start?: number; end?: number } = {}): AsyncIterable<Buffer> {
    const s = range.start ?? 0, e = range.end;
    if (e !== undefined && e <= s) return;
    const Range = s || e !== undefined ? `bytes=${s}-${e === undefined ? '' : e - 1}` : undefined, what = `cannot read '${this.where}/${key}'`;
    this.quiet ??= client(this.o, true);
    const ac = new AbortController();
    let body: any, waiting = true;
    const timer = setTimeout(() => {
      if (!waiting) return;   // re-armed when it waits again
      const err = Object.assign(new Error('timed out'), { name: 'TimeoutError' });
      if (body) body.destroy(err); else ac.abort(err);
    }, (this.o.timeout ?? 30) * 1000).unref();
    try {
      try { body = (await this.quiet.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.base + key, Range }), { abortSignal: ac.signal })).Body; }
      catch (err) { throw s3Error(ac.signal.aborted ? ac.signal.reason : err, what); }
      const it = body[Symbol.asyncIterator]();
      for (;;) {
        waiting = true; timer.refresh();
        let r;
        try { r = await it.next(); } catch (err) { throw s3Error(err, what); }
        waiting = false;
        if (r.done) return;
        yield r.value as Buffer;
      }
    } finally { clearTimeout(timer); body?.destroy?.(); }
  }

  /** The names under chunks/, less those of runs not yet published (their staging). */
  async list(): Promise<string[]> {
    const hide = new Set((await this.markers()).filter(r => r.m && !r.m.published).flatMap(r => r.m!.chunks));
    return (await this.keys(`${this.base}chunks/`)).filter(n => !hide.has(n));
  }

  async remove(key: string): Promise<void> {
    try { await this.c.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.base + key })); } catch (e) { throw s3Error(e, `cannot delete '${this.where}/${key}'`); }
  }

  async runs(): Promise<RunInfo[]> {
    return (await this.markers()).map(({ key, m, state }) => ({
      name: key.slice(this.base.length), state, who: m ? `pid ${m.pid} on host '${m.host}'` : 'a run', listed: m === null ? null : m.published ? m.chunks : undefined,
      remove: async () => { await removeRun(this.c, this.bucket, this.base, m, key, !!m && !m.published); return true; },
    }));
  }

  prepareRead(keys: string[]): Promise<string | undefined> {
    return restoreArchived(this.c, this.bucket, keys.map(k => this.base + k), this.o.restoreTier ?? 'Bulk', this.o.restoreDays ?? 7);
  }

  private async markers(): Promise<{ key: string; m: Marker | null; state: RunInfo['state'] }[]> {
    const out = [];
    for (const n of await this.keys(`${this.base}runs/`)) {
      const key = `${this.base}runs/${n}`;
      let got;
      try { got = await getText(this.c, this.bucket, key); } catch (e) { throw s3Error(e, `cannot read '${this.where}/runs/${n}'`); }
      if (!got) continue;   // its run just removed it
      let m: Marker | null = null;
      try {
        const j = JSON.parse(got.text);
        if (Array.isArray(j?.chunks) && typeof j.pid === 'number' && typeof j.updated === 'string') m = j;
      } catch { /* a marker that does not read: null */ }
      const old = !m || Date.now() - Date.parse(m.updated) > STALE_MS;
      const state = m && m.host === hostname() ? (alive(m.pid) ? 'running' : 'failed') : old ? 'failed' : 'running';
      out.push({ key, m, state: state as RunInfo['state'] });
    }
    return out;
  }

  private async keys(prefix: string): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    do {
      let r;
      try { r = await this.c.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, Delimiter: '/', ContinuationToken: token })); }
      catch (e) { if (status(e) === 404) return out; throw s3Error(e, `cannot list 's3://${this.bucket}/${prefix}'`); }
      for (const o of r.Contents ?? []) if (o.Key) out.push(o.Key.slice(prefix.length));
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out;
  }
}
