// The `s3` method: chunk objects and a map under s3://BUCKET/PREFIX (the S3 store,
// lib/store/s3/), written by zb-chunk-s3 and read back by zb-chunk-s3 -d. The secret goes
// to the stage in its environment (AWS_SECRET_ACCESS_KEY), never in its argv.
import { hostname } from 'node:os';
import { ChunkBackup } from './chunks.js';
import { stage } from './stages.js';
import { S3Store } from '../store/s3/s3.js';
import type { S3Options } from '../store/s3/client.js';
import type { BackupOptions } from './backup.js';
import type { Stage } from './pipeline.js';

export type S3MethodOptions = Omit<S3Options, 'prefix'> & { prefix?: string; chunkSize?: number; lockWait?: number };

export class ZFSBackupS3 extends ChunkBackup {
  readonly prefix: string;
  private s3Store?: S3Store;
  constructor(dataset: string, public s3: S3MethodOptions, opts: BackupOptions = {}) {
    super(dataset, `s3://${s3.bucket}/${s3.prefix ?? hostname()}`, opts);
    this.prefix = s3.prefix ?? hostname();
  }
  get store(): S3Store { return this.s3Store ??= new S3Store({ ...this.s3, prefix: this.prefix, chunkSize: this.s3.chunkSize ?? 4 * 2 ** 30 }); }

  private args(): string[] {
    const s = this.s3, a = ['--bucket', s.bucket, '--prefix', this.prefix];
    const opt: [string, unknown][] = [['server', s.server], ['region', s.region], ['profile', s.profile], ['part-size', s.partSize],
      ['max-parts', s.maxParts], ['concurrency', s.concurrency], ['storage-class', s.storageClass], ['chunk-size', s.chunkSize],
      ['restore-tier', s.restoreTier], ['restore-days', s.restoreDays], ['timeout', s.timeout]];
    for (const [k, v] of opt) if (v !== undefined) a.push(`--${k}`, String(v));
    if (s.glacierDays === 0) a.push('--no-glacier'); else if (s.glacierDays !== undefined) a.push('--glacier-days', String(s.glacierDays));
    return a;
  }
  private env(): Record<string, string> | undefined {
    const e: Record<string, string> = {};
    if (this.s3.key) e.AWS_ACCESS_KEY_ID = this.s3.key;
    if (this.s3.secret) e.AWS_SECRET_ACCESS_KEY = this.s3.secret;
    return Object.keys(e).length ? e : undefined;
  }
  protected writeStage(): Stage {
    const a = this.args();
    if (this.s3.lockWait !== undefined) a.push('--lock-wait', String(this.s3.lockWait));
    return stage('zb-chunk-s3', a, this.env());
  }
  protected readStage(args: string[]): Stage { return stage('zb-chunk-s3', [...this.args().filter(x => x !== '--no-glacier'), ...args], this.env()); }
}
