// The `directory` method: chunk files and a map under DEST/PREFIX (the directory store,
// lib/store/dir/), written by zb-chunk-dir and read back by zb-chunk-dir -d.
import { hostname } from 'node:os';
import { UsageError } from '../errors.js';
import { ChunkBackup } from './chunks.js';
import { stage } from './stages.js';
import { DirStore } from '../store/dir/dir.js';
import type { BackupOptions } from './backup.js';
import type { Stage } from './pipeline.js';

export interface DirectoryOptions {
  /** DEST/PREFIX holds the store (default: the host name) */
  prefix?: string;
  /** largest chunk file, in bytes (default 2 GiB) */
  chunkSize?: number;
  /** seconds to wait for another writer's lock (default 60) */
  lockWait?: number;
}

export class ZFSBackupDirectory extends ChunkBackup {
  readonly prefix: string;
  private dirStore?: DirStore;
  constructor(dataset: string, dest: string, opts: BackupOptions = {}, public dir: DirectoryOptions = {}) {
    super(dataset, dest, opts);
    this.prefix = dir.prefix ?? hostname();
    for (const [k, v] of [['chunk size', dir.chunkSize], ['lock wait', dir.lockWait]] as const)
      if (v !== undefined && !(Number.isSafeInteger(v) && v >= (k === 'chunk size' ? 1 : 0))) throw new UsageError(`invalid ${k} ${v}`);
  }
  /** DEST/PREFIX (DEST must exist: checked here, on first use) */
  get store(): DirStore { return this.dirStore ??= new DirStore(this.dest, this.prefix); }

  private place(): string[] { return ['--dest', this.dest, '--prefix', this.prefix]; }
  protected writeStage(): Stage {
    const a = this.place();
    if (this.dir.chunkSize !== undefined) a.push('--chunk-size', String(this.dir.chunkSize));
    if (this.dir.lockWait !== undefined) a.push('--lock-wait', String(this.dir.lockWait));
    return stage('zb-chunk-dir', a);
  }
  protected readStage(args: string[]): Stage { return stage('zb-chunk-dir', [...this.place(), ...args]); }
}
