// StreamBackup sends its bytes as hundreds of ~1 MiB `chunk` messages. The
// generated serializer encodes each through a writer that grows by doubling,
// then copies the result twice more (finish, Buffer.from): about 4 MiB of
// garbage per MiB sent, which showed as the agent's CPU and peak memory in
// the StreamBackup bench. A chunk-only message is simple enough to encode
// directly, in one allocation and one copy; anything else (progress, the
// closing metadata) goes through the generated code. A chunk the coalescer
// (chunk-coalescer.ts) gathered already sits in its message's buffer, after
// room for the tag and length: that message is sent as it is, no copy.
import { StreamBackupResponse } from '../../proto/gen/coffer/agent/v1/backup.js';

/** Field 2 (chunk), wire type 2 (length-delimited). */
const CHUNK_TAG = (2 << 3) | 2;

/** Room before a pre-encoded chunk: the tag and a varint length of up to 3 bytes (chunks under 2 MiB). */
export const CHUNK_HEADROOM = 4;

/** Chunks whose encoded message is already around them, and that message. */
const preEncoded = new WeakMap<Uint8Array, Buffer>();

/**
 * `buf` holds `length` chunk bytes from offset CHUNK_HEADROOM on: writes the
 * tag and length just before them and returns the chunk; serializing a
 * message of just this chunk returns the bytes around it.
 */
export function preEncodedChunk(buf: Buffer, length: number): Buffer {
  if (length >= 2 ** 21) throw new RangeError('a pre-encoded chunk must be under 2 MiB');
  const varintBytes = length < 0x80 ? 1 : length < 0x4000 ? 2 : 3;
  const start = CHUNK_HEADROOM - 1 - varintBytes;
  buf[start] = CHUNK_TAG;
  let v = length;
  let i = start + 1;
  while (v >= 0x80) {
    buf[i++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[i] = v;
  const chunk = buf.subarray(CHUNK_HEADROOM, CHUNK_HEADROOM + length);
  preEncoded.set(chunk, buf.subarray(start, CHUNK_HEADROOM + length));
  return chunk;
}

export function serializeStreamBackupResponse(value: StreamBackupResponse): Buffer {
  const { chunk } = value;
  if (chunk === undefined || value.progress !== undefined || value.metadata !== undefined) {
    return Buffer.from(StreamBackupResponse.encode(value).finish());
  }
  const ready = preEncoded.get(chunk);
  if (ready) return ready;
  let n = chunk.length;
  let varintBytes = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    varintBytes += 1;
  }
  const out = Buffer.allocUnsafe(1 + varintBytes + chunk.length);
  out[0] = CHUNK_TAG;
  let v = chunk.length;
  let i = 1;
  while (v >= 0x80) {
    out[i++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  out[i++] = v;
  out.set(chunk, i);
  return out;
}
