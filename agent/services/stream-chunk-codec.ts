// StreamBackup sends its bytes as hundreds of ~1 MiB `chunk` messages. The
// generated serializer encodes each through a writer that grows by doubling,
// then copies the result twice more (finish, Buffer.from): about 4 MiB of
// garbage per MiB sent, which showed as the agent's CPU and peak memory in
// the StreamBackup bench. A chunk-only message is simple enough to encode
// directly, in one allocation and one copy; anything else (progress, the
// closing metadata) goes through the generated code.
import { StreamBackupResponse } from '../../proto/gen/coffer/agent/v1/backup.js';

/** Field 2 (chunk), wire type 2 (length-delimited). */
const CHUNK_TAG = (2 << 3) | 2;

export function serializeStreamBackupResponse(value: StreamBackupResponse): Buffer {
  const { chunk } = value;
  if (chunk === undefined || value.progress !== undefined || value.metadata !== undefined) {
    return Buffer.from(StreamBackupResponse.encode(value).finish());
  }
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
