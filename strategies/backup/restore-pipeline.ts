// The restore direction of the byte pipeline:
//
//   object -> sha256+count -> decrypt -> decompress -> destination
//
// Restore reads the object twice (docs/backup-format.md, "Restore"): a verify
// pass (verify.ts) authenticates every frame, the final-frame marker and the
// recorded sha256 without producing output; only then does this pass
// decrypt into the destination. The decompression stage gives its output
// either as a stream or, with zstd, as a program's output a restoring tool
// takes directly (compression.ts).
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { decompressStage, type CompressionDeps, type CompressionName } from './compression.js';
import { FrameDecryptor } from './crypto-frames.js';
import { HashMeter, bothCounters, progressMeter } from './hash-meter.js';
import { YoungCollector } from '../../lib/young-gc.js';
import { assertWrappingKey } from './key-wrap.js';
import { assertSha256, cancelledOr } from './pipeline-outcome.js';
import type { VerifyOptions } from './verify.js';

export interface OpenRestoreOptions extends VerifyOptions {
  readonly wrappingKey: Buffer;
  readonly expectedSha256: string;
  readonly compression: CompressionName;
  /**
   * From verifyObject: refuse an object that is not the one verified. With
   * it, this pass does not hash the object again: the header names the
   * verified object's data key, and every frame's tag, position and the
   * final marker are checked under it, which the sha256 adds nothing to.
   */
  readonly expectHeader?: Buffer;
}

export interface OpenedRestore {
  /**
   * The raw bytes. With zstd, a ProgramOutput: a tool can take zstd's
   * stdout directly (tool-io.ts feedTool, lib/fd-handoff.ts). Ends only
   * once every check passed; errors with the reason otherwise.
   */
  readonly output: Readable;
  /** Settles with the outcome once the output is complete, or failed. */
  readonly result: Promise<RestoreResult>;
}

/**
 * One pass: decrypts (and decompresses) into `output`. Each frame is
 * authenticated before its plaintext moves on, but truncation shows only at
 * the end, so on its own this may have produced a prefix before failing: the
 * consumer must wait for `result` (or the output's end) before it trusts
 * what it read. Verify the object first (verifyObject, as the agent's
 * verifyChain does) and pass its header as expectHeader.
 */
export function openRestore(readable: Readable, opts: OpenRestoreOptions, deps: CompressionDeps): OpenedRestore {
  assertWrappingKey(opts.wrappingKey);
  assertSha256(opts.expectedSha256);
  const meter = progressMeter(opts.onProgress, opts.progressIntervalMs);
  const rehash = opts.expectHeader === undefined;
  // The dead Buffers of each few MiB freed by a scavenge, not a full GC (lib/young-gc.ts).
  const young = new YoungCollector();
  const stored = new HashMeter({ expectedSha256: rehash ? opts.expectedSha256 : undefined, hash: rehash, onBytes: bothCounters(meter?.addStored, young.active ? young.add : undefined) });
  const decryptor = new FrameDecryptor({ wrappingKey: opts.wrappingKey, expectHeader: opts.expectHeader, dataKey: opts.dataKey });
  const signalOpt = opts.signal ? { signal: opts.signal } : {};
  const decompression = decompressStage(opts.compression, deps, meter);
  const fed = pipeline([readable, stored, decryptor, ...decompression.tail], signalOpt).catch((err: unknown) => {
    throw cancelledOr(err, opts.signal, 'restore');
  });
  const { output, done } = decompression.open(fed);
  const result = done.then(() => {
    const rawBytes = decompression.rawBytes();
    meter?.finish(rawBytes);
    return { rawBytes, storedBytes: stored.bytes };
  });
  result.catch(() => undefined);
  return { output, result };
}

export interface RestoreResult {
  /** Bytes written to the destination. */
  readonly rawBytes: number;
  /** Bytes read from the object. */
  readonly storedBytes: number;
}
