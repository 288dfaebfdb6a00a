// Taking a backup: the capability's tool (the source) feeds the encrypted,
// compressed pipeline (strategies/backup/pipeline.ts), which feeds a sink
// (a store's object, or the caller's stream). The sink's owner commits or
// discards what it got.
import type { Writable } from 'node:stream';
import { runBackup, type PipelineDeps } from '../../strategies/backup/pipeline.js';
import type { Progress as PipelineProgress } from '../../strategies/backup/hash-meter.js';
import type { BackupMetadata } from '../../proto/gen/coffer/agent/v1/backup.js';
import type { BackupPlan } from './plan.js';
import { gatedSource } from './source-gate.js';

export interface BackupProgress {
  phase: string;
  message: string;
  bytesDone: number;
  bytesTotal: number;
  bytesPerSecond: number;
}

export interface BackupSink {
  readonly stream: Writable;
  /** A store's sink hashes what it saves; the pipeline then need not. */
  readonly done?: Promise<{ sha256: string }>;
}

export interface TakeBackupOptions {
  readonly plan: BackupPlan;
  readonly meta: BackupMetadata;
  /** Called once the tool started, so a tool that cannot start leaves no object. */
  readonly sinkFor: (meta: BackupMetadata) => BackupSink;
  readonly wrappingKey: Buffer;
  readonly onProgress: (p: BackupProgress) => void;
  readonly signal: AbortSignal;
  readonly deps: PipelineDeps;
}

/** Resolves the complete metadata once the tool exited well and the sink has every byte. */
export async function takeBackup(opts: TakeBackupOptions): Promise<BackupMetadata> {
  const { plan: p, meta, signal, onProgress } = opts;
  // One controller for the tool: aborted when the caller goes away or when
  // the pipeline fails, so the tool's process group never outlives it.
  const tool = new AbortController();
  const onAbort = () => tool.abort(signal.reason);
  signal.addEventListener('abort', onAbort);
  try {
    const source = await p.cap.source({ strategy: p.strategy, type: p.incremental ? 'incremental' : 'full', parent: p.parent, signal: tool.signal });
    const sink = opts.sinkFor(meta);
    const report = (x: PipelineProgress) =>
      onProgress({ phase: 'backup', message: `${p.strategy} backup`, bytesDone: x.rawBytes, bytesTotal: 0, bytesPerSecond: x.rawRate });
    const sinkSha256 = sink.done?.then((s) => s.sha256);
    sinkSha256?.catch(() => undefined); // awaited by runBackup on success only
    let result;
    try {
      result = await runBackup(
        { source: gatedSource(source), sink: sink.stream, sinkSha256, wrappingKey: opts.wrappingKey, compression: p.compression, signal, onProgress: report },
        opts.deps,
      );
    } catch (err) {
      tool.abort(err);
      // The tool is stopped (SIGKILL after the kill timeout at the latest):
      // the operation ends only once it is gone.
      await source.done.catch(() => undefined);
      if (sink.done) await sink.done.catch(() => undefined);
      throw err;
    }
    const recorded = await source.done;
    if (sink.done) await sink.done;
    return {
      ...meta,
      ...recorded,
      // end_time_ms: when the tool finished, so no later than the backup's
      // consistency point. A restore to a point can start no earlier
      // (docs/pitr.md); created_at_ms is the backup's start.
      extra: { ...meta.extra, ...(recorded.extra ?? {}), end_time_ms: String(Date.now()) },
      rawBytes: result.rawBytes,
      storedBytes: result.storedBytes,
      checksum: result.sha256,
      encryption: { algorithm: result.encryption.algorithm, wrappedKey: result.encryption.wrappedKey, keyId: result.encryption.keyId, frameSize: result.encryption.frameSize },
    };
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
