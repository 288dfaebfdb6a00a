// StreamBackup's byte sink. The backup pipeline hands over pieces of every
// size (64 KiB of ciphertext, a 4-byte frame word, a 16-byte tag); sending
// each as its own message cost grpc-js's per-message work ~14,000 times for
// an 800 MB backup, and the agent's CPU showed it (docs/performance.md).
// This gathers them into chunk messages of up to `messageBytes`, written
// straight into the encoded message's buffer (stream-chunk-codec.ts), so a
// byte is copied once on its way to the transport, as before.
//
// Memory: one message being gathered, plus what the transport holds; a
// transport that says "wait" (write returned false) gets nothing more until
// it drains, and the pipeline behind this stream waits in turn (its
// highWaterMark is the message size). A reader that stalls therefore holds
// the agent to about two messages here, whatever the backup's size.
import { Writable } from 'node:stream';
import { CHUNK_HEADROOM, preEncodedChunk } from './stream-chunk-codec.js';

/** 1 MiB: well under grpc-js's default 4 MiB receive limit, large enough that per-message costs vanish. */
export const DEFAULT_MESSAGE_BYTES = 1024 * 1024;

/** What the coalescer needs of a server call (grpc.ServerWritableStream). */
export interface ChunkTransport {
  /** Sends one chunk; false: wait for 'drain' before the next. */
  write(message: { chunk: Buffer }): boolean;
  once(event: 'drain', fn: () => void): unknown;
  readonly cancelled: boolean;
}

export class ChunkCoalescer extends Writable {
  private buf: Buffer | undefined;
  private fill = 0;
  /** Messages sent, for tests and logs. */
  messages = 0;

  constructor(
    private readonly transport: ChunkTransport,
    private readonly cancelledError: () => Error,
    private readonly messageBytes = DEFAULT_MESSAGE_BYTES,
  ) {
    super({ highWaterMark: messageBytes });
    if (!Number.isInteger(messageBytes) || messageBytes < 1 || messageBytes >= 2 ** 21) {
      throw new RangeError(`message size must be 1 to ${2 ** 21 - 1} bytes (got ${messageBytes})`);
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.transport.cancelled) return cb(this.cancelledError());
    let off = 0;
    const next = (): void => {
      while (off < chunk.length) {
        const buf = (this.buf ??= Buffer.allocUnsafe(CHUNK_HEADROOM + this.messageBytes));
        const n = Math.min(chunk.length - off, this.messageBytes - this.fill);
        chunk.copy(buf, CHUNK_HEADROOM + this.fill, off, off + n);
        this.fill += n;
        off += n;
        if (this.fill === this.messageBytes && !this.send()) {
          this.transport.once('drain', () => (this.transport.cancelled ? cb(this.cancelledError()) : next()));
          return;
        }
      }
      cb();
    };
    next();
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.transport.cancelled) return cb(this.cancelledError());
    if (this.fill === 0 || this.send()) return cb();
    this.transport.once('drain', () => cb(this.transport.cancelled ? this.cancelledError() : null));
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.buf = undefined;
    cb(err);
  }

  /** Sends what was gathered; a new buffer for the next message (the transport keeps this one until it is written). */
  private send(): boolean {
    const chunk = preEncodedChunk(this.buf!, this.fill);
    this.buf = undefined;
    this.fill = 0;
    this.messages += 1;
    return this.transport.write({ chunk });
  }
}
