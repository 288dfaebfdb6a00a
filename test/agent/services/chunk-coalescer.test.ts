// StreamBackup's coalescer: pieces of every size go out as chunk messages of
// up to the bound, byte for byte, encoded as the generated code would; and a
// reader that stalls holds the agent to a bounded number of bytes. The
// transport is a fake (a gRPC call whose reader never drains cannot be
// observed this precisely through grpc-js's own buffers): it injects the stall.
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import t from 'tap';
import { ChunkCoalescer, type ChunkTransport } from '../../../agent/services/chunk-coalescer.js';
import { serializeStreamBackupResponse } from '../../../agent/services/stream-chunk-codec.js';
import { StreamBackupResponse } from '../../../proto/gen/coffer/agent/v1/backup.js';

class FakeTransport extends EventEmitter implements ChunkTransport {
  cancelled = false;
  readonly sent: Buffer[] = [];
  constructor(private readonly accept: () => boolean) {
    super();
  }
  write(message: { chunk: Buffer }): boolean {
    // What grpc-js does with the message: serialize it at once.
    this.sent.push(serializeStreamBackupResponse(message));
    return this.accept();
  }
}

/** The pipeline's shapes: 64 KiB of ciphertext between a 4-byte frame word and a 16-byte tag. */
function pieces(total: number): Buffer[] {
  const out: Buffer[] = [];
  let n = 0;
  while (n < total) {
    for (const size of [4, 65536, 65536, 16, 1000]) {
      const p = randomBytes(Math.min(size, total - n));
      out.push(p);
      n += p.length;
      if (n === total) break;
    }
  }
  return out;
}

t.test('pieces go out as messages of up to the bound, every byte in order, encoded as the generated code does', async (t) => {
  const input = pieces(3 * 256 * 1024 + 12345);
  const transport = new FakeTransport(() => true);
  const c = new ChunkCoalescer(transport, () => new Error('cancelled'), 256 * 1024);
  await pipeline(Readable.from(input), c);
  const chunks = transport.sent.map((m) => Buffer.from(StreamBackupResponse.decode(m).chunk!));
  t.same(chunks.map((x) => x.length), [262144, 262144, 262144, 12345], 'full messages, then the rest');
  t.ok(Buffer.concat(chunks).equals(Buffer.concat(input)), 'the same bytes in the same order');
  for (const [i, m] of transport.sent.entries()) {
    t.ok(m.equals(Buffer.from(StreamBackupResponse.encode({ chunk: chunks[i]! }).finish())), `message ${i}: the generated encoding`);
  }
  t.equal(c.messages, 4);

  // A short stream: one small message, its length a one-byte varint.
  const small = new FakeTransport(() => true);
  await pipeline(Readable.from([Buffer.from('abc')]), new ChunkCoalescer(small, () => new Error('cancelled')));
  t.same(StreamBackupResponse.decode(small.sent[0]!).chunk, Buffer.from('abc'));
  t.equal(small.sent[0]!.length, 5);
});

t.test('fake stalled reader: the coalescer takes a bounded number of bytes, then resumes on drain; a cancel ends it', async (t) => {
  const messageBytes = 256 * 1024;
  const transport = new FakeTransport(() => false); // never has room: a reader that stopped reading
  const c = new ChunkCoalescer(transport, () => new Error('the client went away'), messageBytes);
  let produced = 0;
  const total = 64 * 1024 * 1024;
  const source = new Readable({
    highWaterMark: 64 * 1024,
    read() {
      if (produced >= total) return this.push(null);
      produced += 65536;
      this.push(Buffer.alloc(65536, 7));
    },
  });
  const done = pipeline(source, c);
  done.catch(() => undefined);
  // The producer stops once everything between it and the stalled reader is full.
  let last = -1;
  for (let i = 0; i < 10_000 && produced !== last; i++) {
    last = produced;
    for (let k = 0; k < 20; k++) await new Promise((r) => setImmediate(r));
  }
  t.equal(produced, last, 'the producer is held back');
  const bound = messageBytes /* sent, held by the transport */ + messageBytes /* gathering and the stream's buffer */ + 2 * 65536 /* the source's buffer and the piece being written */;
  t.ok(produced <= bound, `bytes taken from the pipeline (${produced}) stay within ${bound}, of a ${total}-byte backup`);
  t.equal(transport.sent.length, 1, 'one message went out, then it waited');

  transport.emit('drain');
  for (let i = 0; i < 10_000 && transport.sent.length < 2; i++) await new Promise((r) => setImmediate(r));
  t.equal(transport.sent.length, 2, 'a drain lets the next message go');

  transport.cancelled = true;
  transport.emit('drain');
  await t.rejects(done, /the client went away/, 'a reader that went away fails the pipeline');
  t.ok(produced < total, 'and the rest of the backup was never produced');
});

t.test('a message size out of range is refused', async (t) => {
  t.throws(() => new ChunkCoalescer(new FakeTransport(() => true), () => new Error('x'), 2 ** 21), /message size/);
});
