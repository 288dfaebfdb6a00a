// The backup byte pipeline, independent of any datastore:
//
//   backup:  source -> compress -> encrypt -> sha256+count -> sink      (backup-pipeline.ts)
//   verify:  object -> sha256+count -> decrypt (authenticate) -> discard (verify.ts)
//   restore: object -> sha256+count -> decrypt -> decompress -> destination (restore-pipeline.ts)
//
// The compression stage (compression.ts) takes a datastore tool's output
// directly and hands its own to the restoring tool, so with zstd only
// compressed bytes pass through the agent.
//
// Memory bound (per pipeline, independent of backup size), F = frame size:
// encryptor 1 pending + up to 2 pushed frames, the stored-side meter and the
// sink up to 1 frame each, decryptor 1 buffered + 1 pushed; plus 64 KiB pipe
// buffers and 16 KiB stream highWaterMarks per stage. About 6F + 1 MiB, so
// ~7 MiB live with the default 1 MiB frames. test/strategies/backup/
// memory.test.ts pushes 1 GiB through and bounds peak growth (garbage not yet
// collected included) at 128 MiB arrayBuffers / 160 MiB RSS. zstd's own
// memory is in its process.
import type { CompressionDeps } from './compression.js';

export type PipelineDeps = CompressionDeps;
export { runBackup, type BackupEncryption, type BackupPipelineOptions, type BackupResult } from './backup-pipeline.js';
export { verifyObject, type VerifiedObject, type VerifyOptions } from './verify.js';
export { openRestore, type OpenRestoreOptions, type OpenedRestore, type RestoreResult } from './restore-pipeline.js';
