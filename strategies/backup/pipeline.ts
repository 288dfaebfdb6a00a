// The backup byte pipeline, independent of any datastore:
//
//   backup:  source -> count -> compress -> encrypt -> sha256+count -> sink
//   restore: object -> sha256+count -> decrypt -> decompress -> count -> destination
//
// Each direction is ONE stream.pipeline call, so backpressure, error
// propagation and cleanup come from Node: when any stage fails or the signal
// aborts, every stage is destroyed, the compressor's process group is killed
// and the sink removes its partial object.
//
// Restore reads the object twice (docs/backup-format.md, "Restore"): a verify
// pass authenticates every frame, the final-frame marker and the recorded
// sha256 without producing output; only then does the restore pass decrypt
// into the destination. Truncation can only be seen at the end of an object,
// and a datastore must not be fed a prefix of a backup.
//
// Memory bound (per pipeline, independent of backup size), F = frame size:
// encryptor 1 pending + up to 2 pushed frames, the stored-side meter and the
// sink up to 1 frame each, decryptor 1 buffered + 1 pushed; plus 64 KiB pipe
// buffers and 16 KiB stream highWaterMarks per stage. About 6F + 1 MiB, so
// ~7 MiB live with the default 1 MiB frames. test/strategies/backup/
// memory.test.ts pushes 1 GiB through and bounds peak growth (garbage not yet
// collected included) at 128 MiB arrayBuffers / 160 MiB RSS. zstd's own
// memory is in its process.
import { PassThrough, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CofferError } from '../../lib/coded-error.js';
import { CommandError } from '../../lib/process-runner.js';
import { ProgramOutput } from '../../lib/program-output.js';
import {
  compressProgramOutput,
  createCompressor,
  createDecompressor,
  decompressToProgram,
  type CompressionDeps,
  type CompressionName,
  type CompressionStage,
} from './compression.js';
import { DEFAULT_FRAME_SIZE, ENCRYPTION_ALGORITHM, FrameDecryptor, FrameEncryptor, assertFrameSize } from './crypto-frames.js';
import { HashMeter, ProgressMeter, type Progress } from './hash-meter.js';
import { assertKeyMatches, assertWrappingKey, createDataKey } from './key-wrap.js';

export type PipelineDeps = CompressionDeps;

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

export async function runBackup(opts: BackupPipelineOptions, deps: PipelineDeps): Promise<BackupResult> {
  assertWrappingKey(opts.wrappingKey);
  const frameSize = opts.frameSize ?? DEFAULT_FRAME_SIZE;
  assertFrameSize(frameSize);
  const dataKey = createDataKey(opts.wrappingKey);
  const meter = progressMeter(opts.onProgress, opts.progressIntervalMs);
  const stored = new HashMeter({ hash: opts.sinkSha256 === undefined, onBytes: meter?.addStored });
  const { source } = opts;
  // A program's output goes to zstd directly: only compressed bytes enter the agent.
  const direct = opts.compression === 'zstd' && source instanceof ProgramOutput && source.canHandOff ? compressProgramOutput(source, deps) : undefined;
  const raw = direct ? undefined : new HashMeter({ hash: false, onBytes: meter?.addRaw });
  const compressor = direct ? undefined : createCompressor(opts.compression, deps);
  if (direct) meter?.probeRaw(direct.rawSoFar);
  const head: Readable[] = direct ? [direct.output] : [source, raw!, compressor!.stream];
  const reap = async (): Promise<void> => {
    if (compressor) await reaped(compressor);
    if (direct) {
      if (!direct.output.destroyed && !direct.output.readableEnded) direct.output.destroy();
      await direct.child.exited;
    }
  };
  try {
    await pipeline([...head, new FrameEncryptor({ dataKey, frameSize }), stored, opts.sink], opts.signal ? { signal: opts.signal } : {});
  } catch (err) {
    // Another stage may report the breakage first (a premature close); the
    // compressor's own exit status and stderr are the reason a person needs.
    await reap();
    throw cancelledOr((compressor && programFailure(compressor)) ?? err, opts.signal, 'backup');
  } finally {
    dataKey.key.fill(0);
    await reap();
  }
  const rawBytes = direct ? (direct.rawTotal() ?? 0) : raw!.bytes;
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

export interface VerifyOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: Progress) => void;
  readonly progressIntervalMs?: number;
}

export interface VerifiedObject {
  readonly storedBytes: number;
  readonly sha256: string;
  readonly frames: number;
  readonly frameSize: number;
  readonly keyId: string;
  /** The object's header bytes; the restore pass insists on the same. */
  readonly header: Buffer;
}

/**
 * Reads a stored object once and checks everything without producing any
 * output: the header and key id, every frame's authentication tag and
 * position, the final-frame marker, and the sha256 of all its bytes.
 */
export async function verifyObject(
  readable: Readable,
  expectedSha256: string,
  wrappingKey: Buffer,
  opts: VerifyOptions = {},
): Promise<VerifiedObject> {
  assertWrappingKey(wrappingKey);
  assertSha256(expectedSha256);
  const meter = progressMeter(opts.onProgress, opts.progressIntervalMs);
  const stored = new HashMeter({ expectedSha256, onBytes: meter?.addStored });
  const decryptor = new FrameDecryptor({ wrappingKey });
  const discard = new Writable({ write: (_chunk, _enc, cb) => cb() });
  try {
    await pipeline(readable, stored, decryptor, discard, opts.signal ? { signal: opts.signal } : {});
  } catch (err) {
    throw cancelledOr(err, opts.signal, 'verify');
  }
  meter?.finish();
  const header = decryptor.header!;
  return { storedBytes: stored.bytes, sha256: stored.sha256, frames: decryptor.frames, frameSize: header.frameSize, keyId: header.keyId, header: header.bytes };
}

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
   * stdout directly (tool-io.ts feedTool). Ends only once every check
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
export function openRestore(readable: Readable, opts: OpenRestoreOptions, deps: PipelineDeps): OpenedRestore {
  assertWrappingKey(opts.wrappingKey);
  assertSha256(opts.expectedSha256);
  const meter = progressMeter(opts.onProgress, opts.progressIntervalMs);
  const rehash = opts.expectHeader === undefined;
  const stored = new HashMeter({ expectedSha256: rehash ? opts.expectedSha256 : undefined, hash: rehash, onBytes: meter?.addStored });
  const decryptor = new FrameDecryptor({ wrappingKey: opts.wrappingKey, expectHeader: opts.expectHeader });
  const signalOpt = opts.signal ? { signal: opts.signal } : {};

  if (opts.compression === 'zstd') {
    const zstd = decompressToProgram(deps);
    meter?.probeRaw(zstd.rawSoFar);
    const fed = pipeline(readable, stored, decryptor, zstd.child.stdin!, signalOpt).catch((err: unknown) => {
      throw cancelledOr(err, opts.signal, 'restore');
    });
    const output = zstd.output(fed);
    const result = output.completion.then(() => {
      const rawBytes = zstd.rawTotal() ?? 0;
      meter?.finish(rawBytes);
      return { rawBytes, storedBytes: stored.bytes };
    });
    result.catch(() => undefined);
    return { output, result };
  }

  const raw = new HashMeter({ hash: false, onBytes: meter?.addRaw });
  const decompressor = createDecompressor(opts.compression, deps);
  const output = new PassThrough({ highWaterMark: 1024 * 1024 });
  const result = pipeline(readable, stored, decryptor, decompressor.stream, raw, output, signalOpt).then(
    () => {
      meter?.finish();
      return { rawBytes: raw.bytes, storedBytes: stored.bytes };
    },
    (err: unknown) => {
      throw cancelledOr(err, opts.signal, 'restore');
    },
  );
  result.catch(() => undefined);
  return { output, result };
}

export interface RestoreStreamOptions extends OpenRestoreOptions {
  readonly destination: Writable;
}

/** openRestore into a Writable (a file, a test's collector). */
export async function restoreStream(readable: Readable, opts: RestoreStreamOptions, deps: PipelineDeps): Promise<RestoreResult> {
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
export async function restoreBackup(opts: RestoreBackupOptions, deps: PipelineDeps): Promise<RestoreResult> {
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

function progressMeter(onProgress: ((p: Progress) => void) | undefined, intervalMs: number | undefined): ProgressMeter | undefined {
  return onProgress ? new ProgressMeter({ onProgress, intervalMs }) : undefined;
}

/** Makes sure a compression child is gone before the caller hears the outcome. */
async function reaped(stage: CompressionStage): Promise<void> {
  if (!stage.stream.destroyed && !stage.stream.readableEnded) stage.stream.destroy();
  await stage.exited;
}

function assertSha256(hex: string): void {
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new CofferError('INVALID_ARGUMENT', 'the expected checksum must be a sha256 in hex (64 characters)');
  }
}

function programFailure(stage: CompressionStage): Error | undefined {
  const errored = (stage.stream as { errored?: unknown }).errored;
  return errored instanceof CommandError ? errored : undefined;
}

function cancelledOr(err: unknown, signal: AbortSignal | undefined, what: string): unknown {
  if (signal?.aborted && !(err instanceof CofferError)) {
    return new CofferError('CANCELLED', `${what} was cancelled`, { cause: err });
  }
  return err;
}
