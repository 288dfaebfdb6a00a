// The verify pass: reads a stored object once and checks everything without
// producing any output. Restore runs it first (restore-pipeline.ts):
// truncation can only be seen at the end of an object, and a datastore must
// not be fed a prefix of a backup.
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FrameDecryptor } from './crypto-frames.js';
import { HashMeter, progressMeter, type Progress } from './hash-meter.js';
import { assertWrappingKey } from './key-wrap.js';
import type { HandedDataKey } from './crypto-frames.js';
import { assertSha256, cancelledOr } from './pipeline-outcome.js';

export interface VerifyOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: Progress) => void;
  readonly progressIntervalMs?: number;
  /** An object whose data key this reader gets unwrapped already (DecryptorOptions.dataKey). */
  readonly dataKey?: HandedDataKey;
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
  const decryptor = new FrameDecryptor({ wrappingKey, dataKey: opts.dataKey });
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
