// The backup direction of the byte pipeline:
//
//   source -> compress -> encrypt -> sha256+count -> sink
//
// ONE stream.pipeline call, so backpressure, error propagation and cleanup
// come from Node: when any stage fails or the signal aborts, every stage is
// destroyed, the compressor's (and a source tool's) process group is
// stopped and the sink removes its partial object. The compression stage
// counts the raw bytes, and takes a tool's output directly where it can
// (compression.ts).
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { compressStage, type CompressionDeps, type CompressionName } from './compression.js';
import { DEFAULT_FRAME_SIZE, ENCRYPTION_ALGORITHM, FrameEncryptor, assertFrameSize } from './crypto-frames.js';
import { HashMeter, progressMeter, type Progress } from './hash-meter.js';
import { assertWrappingKey, createDataKey } from './key-wrap.js';
import { cancelledOr } from './pipeline-outcome.js';
import { YoungCollector } from '../../lib/young-gc.js';
import { bothCounters } from './hash-meter.js';

export interface BackupPipelineOptions {
  readonly source: Readable;
  /** An ObjectSink's stream: commits on finish, removes the partial object on destroy. */
  readonly sink: Writable;
  /**
   * The sha256 the sink computes of what it stores (an ObjectSink's
   * SavedObject.sha256). Given, the pipeline does not hash the same bytes a
   * second time: sha256 is the costliest step the agent itself runs.
   */
  readonly sinkSha256?: Promise<string>;
  /** 32 bytes, given by the control plane. */
  readonly wrappingKey: Buffer;
  readonly compression: CompressionName;
  readonly frameSize?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: Progress) => void;
  readonly progressIntervalMs?: number;
}

/** Mirrors coffer.agent.v1.Encryption. */
export interface BackupEncryption {
  readonly algorithm: typeof ENCRYPTION_ALGORITHM;
  readonly wrappedKey: Buffer;
  readonly keyId: string;
  readonly frameSize: number;
}

/** The BackupMetadata fields this pipeline determines. */
export interface BackupResult {
  /** raw_bytes: bytes the source produced. */
  readonly rawBytes: number;
  /** stored_bytes: bytes written to the sink. */
  readonly storedBytes: number;
  /** checksum: sha256 of the stored bytes, hex. */
  readonly sha256: string;
  readonly compression: CompressionName;
  readonly encryption: BackupEncryption;
}

export async function runBackup(opts: BackupPipelineOptions, deps: CompressionDeps): Promise<BackupResult> {
  assertWrappingKey(opts.wrappingKey);
  const frameSize = opts.frameSize ?? DEFAULT_FRAME_SIZE;
  assertFrameSize(frameSize);
  const dataKey = createDataKey(opts.wrappingKey);
  const meter = progressMeter(opts.onProgress, opts.progressIntervalMs);
  // The dead Buffers of each few MiB freed by a scavenge, not a full GC (lib/young-gc.ts).
  const young = new YoungCollector();
  const stored = new HashMeter({ hash: opts.sinkSha256 === undefined, onBytes: bothCounters(meter?.addStored, young.active ? young.add : undefined) });
  const compression = compressStage(opts.compression, opts.source, deps, meter);
  try {
    await pipeline([...compression.head, new FrameEncryptor({ dataKey, frameSize }), stored, opts.sink], opts.signal ? { signal: opts.signal } : {});
  } catch (err) {
    // Another stage may report the breakage first (a premature close); the
    // compressor's own exit status and stderr are the reason a person needs.
    await compression.reap();
    throw cancelledOr(compression.failure() ?? err, opts.signal, 'backup');
  } finally {
    dataKey.key.fill(0);
    await compression.reap();
  }
  const rawBytes = compression.rawBytes();
  const sha256 = opts.sinkSha256 ? await opts.sinkSha256 : stored.sha256;
  meter?.finish(rawBytes);
  return {
    rawBytes,
    storedBytes: stored.bytes,
    sha256,
    compression: opts.compression,
    encryption: { algorithm: ENCRYPTION_ALGORITHM, wrappedKey: dataKey.wrappedKey, keyId: dataKey.keyId, frameSize },
  };
}
