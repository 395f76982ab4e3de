// The typed API: the seed's object model over the same code the binaries run.
export { Backup, ZFSBackup, filterStages, type BackupOptions, type CompressOptions, type EncryptOptions, type Step } from './backup.js';
export { ZFSBackupDirectory, type DirectoryOptions, type RestoreOptions, type RestoreReport, type VerifyReport } from './method-directory.js';
export { runPipeline, describeFailure, describeSecondary, forwardStderr, type Stage, type PipelineResult, type RunOptions, type StageResult } from './pipeline.js';
export { needsForce, WouldDestroy, type ReceiveCheck } from './target.js';
export { stage } from './bin.js';
export { ZbReader, ZbWriter, FrameScanner, type Meta, type Filter } from './stream.js';
export * as zfs from './zfs.js';
export { LocalZfs, localZfs, type ZfsHost, type ZfsIo, type Captured } from './zfs-host.js';
export { ZbError, UsageError } from './cli.js';
