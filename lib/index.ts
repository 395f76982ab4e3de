// The typed API: the seed's object model over the same code the binaries run.
export { Backup, ZFSBackup, filterStages, type BackupOptions, type CompressOptions, type EncryptOptions, type Step } from './api/zfs.js';
export { ChunkBackup, type RestoreOptions, type RestoreReport, type VerifyReport } from './api/chunks.js';
export { ZFSBackupDirectory, type DirectoryOptions } from './api/directory.js';
export { DirStore } from './store/dir/dir.js';
export { ZFSBackupS3, type S3MethodOptions } from './api/s3.js';
export { S3Store } from './store/s3/s3.js';
export type { S3Options } from './store/s3/client.js';
export type { ChunkStore, StoreRun, ChunkSink, RunInfo, Stat } from './store/store.js';
export { storeStream, cleanup, type StoreOptions } from './store/write.js';
export { emit, verifyStore, chainProblem, type EmitOptions, type Report } from './store/read.js';
export { readMap, parseMap, type MapDoc, type Entry, type AnyEntry } from './store/map.js';
export { runPipeline, describeFailure, describeSecondary, forwardStderr, type Stage, type PipelineResult, type RunOptions, type StageResult } from './api/pipeline.js';
export { needsForce, WouldDestroy, type ReceiveCheck } from './zfs/target.js';
export { stage } from './api/stages.js';
export { ZbReader, ZbWriter, FrameScanner, type Meta, type Filter } from './stream/zb.js';
export * as zfs from './zfs/commands.js';
export { LocalZfs, localZfs, type ZfsHost, type ZfsIo, type Captured } from './zfs/host.js';
export { ZbError, UsageError, DiskFullError, CommittedError } from './errors.js';
