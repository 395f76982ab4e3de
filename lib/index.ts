// The typed API: the seed's object model over the same code the binaries run.
export { ZFSBackup, filterStages, type BackupOptions, type CompressOptions, type EncryptOptions, type Step } from './backup.js';
export { ZFSBackupDirectory } from './method-directory.js';
export { runPipeline, describeFailure, type Stage, type PipelineResult } from './pipeline.js';
export { stage } from './bin.js';
export { ZbReader, ZbWriter, FrameScanner, type Meta, type Filter } from './stream.js';
export * as zfs from './zfs.js';
export { ZbError, UsageError } from './cli.js';
