// The hand-written StreamBackup chunk encoding must be byte-for-byte what the
// generated code writes, for every length class of the varint, and decode
// back to the same message; other messages go through the generated code.
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { serializeStreamBackupResponse } from '../../../agent/services/stream-chunk-codec.js';
import { StreamBackupResponse } from '../../../proto/gen/coffer/agent/v1/backup.js';

t.test('chunk messages: same bytes as the generated encoder, at every varint length', async (t) => {
  for (const n of [0, 1, 127, 128, 16383, 16384, 1024 * 1024 + 20, 2_097_151, 2_097_152, 3_000_001]) {
    const msg: StreamBackupResponse = { chunk: randomBytes(n) };
    const ours = serializeStreamBackupResponse(msg);
    const generated = Buffer.from(StreamBackupResponse.encode(msg).finish());
    t.ok(ours.equals(generated), `${n} bytes`);
    t.ok(Buffer.from(StreamBackupResponse.decode(ours).chunk!).equals(msg.chunk!), `${n} bytes decode back`);
  }
});

t.test('progress and metadata messages go through the generated encoder', async (t) => {
  const progress: StreamBackupResponse = { progress: { phase: 'backup', message: 'm', bytesDone: 5, bytesTotal: 9, bytesPerSecond: 1, operationId: 'op' } as never };
  t.ok(serializeStreamBackupResponse(progress).equals(Buffer.from(StreamBackupResponse.encode(progress).finish())));
});
