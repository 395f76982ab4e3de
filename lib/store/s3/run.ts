// One run of the S3 store. Its chunks are uploaded straight to run-scoped names,
// PREFIX/chunks/STEM.rNONCE.NNN, and its marker, PREFIX/runs/HOST.PID.NONCE.json, lists each
// name before its upload begins, with a heartbeat (`updated`, every 30 s): a run whose pid
// is dead on this host, or whose heartbeat stopped (another host), is failed. Until publish
// the marker says `published: false` and the store hides its chunks; abort and the next
// run's cleanup remove them and abort their multipart uploads.
import { PassThrough } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Upload } from '@aws-sdk/lib-storage';
import { DeleteObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ZbError } from '../../errors.js';
import { s3Error } from './client.js';
import { abortUploads } from './uploads.js';
import type { ChunkSink, StoreRun } from '../store.js';

export const HEARTBEAT_MS = 30_000;
/** A heartbeat older than this cannot be a live run's. */
export const STALE_MS = 10 * 60_000;
const ABORT_MS = 8000;

export interface Marker { host: string; pid: number; nonce: string; started: string; updated: string; published: boolean; chunks: string[] }
export interface Place { c: S3Client; bucket: string; base: string; partSize: number; concurrency: number; storageClass?: string }

export class S3Run implements StoreRun {
  readonly nonce = randomBytes(4).toString('hex');
  readonly markerKey: string;
  private m: Marker;
  private uploads = new Set<Upload>();
  private beat?: NodeJS.Timeout;
  private saving: Promise<void> = Promise.resolve();
  private stopped = false;
  constructor(private p: Place) {
    const now = new Date().toISOString();
    this.m = { host: hostname(), pid: process.pid, nonce: this.nonce, started: now, updated: now, published: false, chunks: [] };
    this.markerKey = `${p.base}runs/${this.m.host}.${this.m.pid}.${this.nonce}.json`;
  }

  /** The marker written (and then kept fresh) before the first chunk. */
  async start(): Promise<void> {
    await this.save();
    this.beat = setInterval(() => { this.save().catch(() => {}); }, HEARTBEAT_MS);
    this.beat.unref();
  }

  private save(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.m.updated = new Date().toISOString();
    const body = JSON.stringify(this.m) + '\n';
    this.saving = this.saving.catch(() => {}).then(() => this.p.c.send(new PutObjectCommand({
      Bucket: this.p.bucket, Key: this.markerKey, Body: body, ContentType: 'application/json' }))).then(() => {}, (e) => { throw s3Error(e, `cannot write the run marker '${this.markerKey}'`); });
    return this.saving;
  }

  async create(name: string): Promise<ChunkSink> {
    const final = name.replace(/(\.\d{3,})$/, `.r${this.nonce}$1`), key = `${this.p.base}chunks/${final}`;
    this.m.chunks.push(final);
    await this.save();   // listed before a byte is sent
    const body = new PassThrough({ highWaterMark: 1 << 20 });
    const up = new Upload({
      client: this.p.c, partSize: this.p.partSize, queueSize: this.p.concurrency, leavePartsOnError: false,
      params: { Bucket: this.p.bucket, Key: key, Body: body, ...(this.p.storageClass ? { StorageClass: this.p.storageClass as any } : {}) },
    });
    this.uploads.add(up);
    const done = up.done();
    let failed: unknown;
    done.catch((e) => { failed = e; body.destroy(); });
    let size = 0;
    return {
      write: async (b) => {
        if (failed) throw s3Error(failed, `cannot upload '${key}'`);
        size += b.length;
        if (body.write(Buffer.from(b))) return;   // a copy: the caller reuses its buffer
        await new Promise<void>((res, rej) => {
          const end = () => { body.off('drain', end); body.off('close', end); failed ? rej(s3Error(failed, `cannot upload '${key}'`)) : res(); };
          body.on('drain', end); body.on('close', end);
        });
      },
      close: async () => {
        body.end();
        try { await done; } catch (e) { throw s3Error(e, `cannot upload '${key}'`); } finally { this.uploads.delete(up); }
        let got: number | undefined;
        try { got = (await this.p.c.send(new HeadObjectCommand({ Bucket: this.p.bucket, Key: key }))).ContentLength; }
        catch (e) { throw s3Error(e, `cannot check '${key}'`); }
        if (got !== size) throw new ZbError(`'${key}' has ${got} bytes after its upload, ${size} were sent`);
      },
    };
  }

  /** The names were run-scoped from the start: nothing is moved, the marker says published. */
  async publish(names: string[]): Promise<string[]> {
    const final = names.map(n => n.replace(/(\.\d{3,})$/, `.r${this.nonce}$1`));
    if (final.some(n => !this.m.chunks.includes(n))) throw new ZbError('publish of a chunk this run did not make');
    this.m.published = true;
    this.m.chunks = final;
    await this.save();
    return final;
  }

  /** Abort the uploads in flight, delete every chunk of the run, then its marker. Never
   *  throws and takes at most ABORT_MS: what a dead server keeps, the marker names, and the
   *  next run removes it. */
  async abort(): Promise<void> {
    this.stop();
    const work = (async () => {
      await Promise.allSettled([...this.uploads].map(u => u.abort()));
      this.uploads.clear();
      await this.saving.catch(() => {});
      await removeRun(this.p.c, this.p.bucket, this.p.base, this.m, this.markerKey, true);
    })().catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([work, new Promise<void>(r => { timer = setTimeout(r, ABORT_MS); })]);
    clearTimeout(timer);
  }

  async done(): Promise<void> {
    this.stop();
    await this.saving.catch(() => {});
    await this.p.c.send(new DeleteObjectCommand({ Bucket: this.p.bucket, Key: this.markerKey })).catch(() => {});
  }

  private stop(): void { this.stopped = true; if (this.beat) clearInterval(this.beat); }
}

/** A run's leftovers: with `chunks`, the objects its marker lists and their multipart
 *  uploads; then the marker. Deletes are idempotent: a second pass finishes a first. */
export async function removeRun(c: S3Client, bucket: string, base: string, m: Marker | null, markerKey: string, chunks: boolean): Promise<void> {
  if (chunks && m) {
    const keys = new Set(m.chunks.map(n => `${base}chunks/${n}`));
    await abortUploads(c, bucket, base, (key) => keys.has(key));
    for (const k of keys) await c.send(new DeleteObjectCommand({ Bucket: bucket, Key: k })).catch((e) => { throw s3Error(e, `cannot delete '${k}'`); });
  }
  await c.send(new DeleteObjectCommand({ Bucket: bucket, Key: markerKey })).catch((e) => { throw s3Error(e, `cannot delete '${markerKey}'`); });
}
