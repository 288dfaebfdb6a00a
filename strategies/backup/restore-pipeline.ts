// The restore direction of the byte pipeline:
//
//   object -> sha256+count -> decrypt -> decompress -> destination
//
// Restore reads the object twice (docs/backup-format.md, "Restore"): a verify
// pass (verify.ts) authenticates every frame, the final-frame marker and the
// recorded sha256 without producing output; only then does the restore pass
// decrypt into the destination. The decompression stage gives its output
// either as a stream or, with zstd, as a program's output a restoring tool
// takes directly (compression.ts).
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { decompressStage, type CompressionDeps, type CompressionName } from './compression.js';
import { FrameDecryptor } from './crypto-frames.js';
import { HashMeter, progressMeter, type Progress } from './hash-meter.js';
import { assertKeyMatches, assertWrappingKey } from './key-wrap.js';
import { assertSha256, cancelledOr } from './pipeline-outcome.js';
import { verifyObject, type VerifyOptions } from './verify.js';

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
   * stdout directly (tool-io.ts feedTool, lib/fd-handoff.ts). Ends only once every check
   * passed; errors with the reason otherwise.
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
 * what it read. Use restoreBackup, which verifies first, unless the object
 * was verified already.
 */
export function openRestore(readable: Readable, opts: OpenRestoreOptions, deps: CompressionDeps): OpenedRestore {
  assertWrappingKey(opts.wrappingKey);
  assertSha256(opts.expectedSha256);
  const meter = progressMeter(opts.onProgress, opts.progressIntervalMs);
  const rehash = opts.expectHeader === undefined;
  const stored = new HashMeter({ expectedSha256: rehash ? opts.expectedSha256 : undefined, hash: rehash, onBytes: meter?.addStored });
  const decryptor = new FrameDecryptor({ wrappingKey: opts.wrappingKey, expectHeader: opts.expectHeader });
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

export interface RestoreStreamOptions extends OpenRestoreOptions {
  readonly destination: Writable;
}

/** openRestore into a Writable (a file, a test's collector). */
export async function restoreStream(readable: Readable, opts: RestoreStreamOptions, deps: CompressionDeps): Promise<RestoreResult> {
  const { output, result } = openRestore(readable, opts, deps);
  try {
    await pipeline(output, opts.destination, opts.signal ? { signal: opts.signal } : {});
  } catch (err) {
    // The first failure is the reason; the rest of the chain is wound down
    // (zstd stopped, the object closed) before the caller hears it.
    readable.destroy();
    await result.catch(() => undefined);
    throw cancelledOr(err, opts.signal, 'restore');
  }
  return await result;
}

export interface RestoreResult {
  /** Bytes written to the destination. */
  readonly rawBytes: number;
  /** Bytes read from the object. */
  readonly storedBytes: number;
}

/** What BackupMetadata recorded about the object. */
export interface RestoreExpectation {
  /** BackupMetadata.checksum. */
  readonly sha256: string;
  readonly compression: CompressionName;
  /** BackupMetadata.encryption.key_id: checked before the object is opened. */
  readonly keyId?: string;
}

export interface RestoreBackupOptions {
  /** Opens the stored object; called twice (verify pass, restore pass). */
  readonly open: () => Promise<Readable> | Readable;
  readonly destination: Writable;
  readonly wrappingKey: Buffer;
  readonly expected: RestoreExpectation;
  readonly signal?: AbortSignal;
  readonly onProgress?: (phase: 'verify' | 'restore', p: Progress) => void;
  readonly progressIntervalMs?: number;
}

/**
 * Verify, then restore. No byte reaches the destination unless the whole
 * object verified; on any failure the destination is destroyed (never
 * finished), so its owner discards what it has.
 */
export async function restoreBackup(opts: RestoreBackupOptions, deps: CompressionDeps): Promise<RestoreResult> {
  const { destination, wrappingKey, expected, signal, onProgress, progressIntervalMs } = opts;
  try {
    assertWrappingKey(wrappingKey);
    if (expected.keyId !== undefined) assertKeyMatches(wrappingKey, expected.keyId);
    const verified = await verifyObject(await opts.open(), expected.sha256, wrappingKey, {
      signal,
      progressIntervalMs,
      onProgress: onProgress && ((p) => onProgress('verify', p)),
    });
    deps.log.debug({ frames: verified.frames, storedBytes: verified.storedBytes }, 'backup object verified');
    return await restoreStream(
      await opts.open(),
      {
        destination,
        wrappingKey,
        expectedSha256: expected.sha256,
        compression: expected.compression,
        expectHeader: verified.header,
        signal,
        progressIntervalMs,
        onProgress: onProgress && ((p) => onProgress('restore', p)),
      },
      deps,
    );
  } catch (err) {
    // Without an error argument: the owner learns through 'close' without
    // 'finish'; an error event here would have no listener to go to.
    if (!destination.destroyed) destination.destroy();
    throw err;
  }
}
