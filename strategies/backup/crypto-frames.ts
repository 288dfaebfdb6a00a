// AES-256-GCM in frames: the stored format of an encrypted backup (see
// docs/backup-format.md for the byte layout). GCM over a whole multi-GiB
// object could only be checked at its very end; frames let the decryptor
// authenticate each frame before it releases that frame's plaintext, and
// bind each frame to its position (sequence number in the nonce and AAD) and
// to whether it is the last one, so reordering, duplication, splicing from
// another backup and truncation are all detected.
//
// Memory: the encryptor holds one frame of plaintext plus the frame it has
// just pushed; the decryptor holds one frame of ciphertext plus one input
// chunk. Both set their readable highWaterMark to one frame, so with the
// default 1 MiB frames each holds at most ~3 MiB however large the backup.
import { createCipheriv, createDecipheriv, randomBytes, type DecipherGCM } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { CofferError } from '../../lib/coded-error.js';
import { KEY_ID_BYTES, unwrapDataKey, type DataKey } from './key-wrap.js';

export const ENCRYPTION_ALGORITHM = 'aes-256-gcm-framed-v1';
export const MAGIC = Buffer.from('COFFERBK', 'latin1');
export const FORMAT_VERSION = 1;
const CIPHER_AES_256_GCM = 1;
const KEY_WRAP_AES_256_KW = 1;
/** Fixed part of the header; the wrapped key follows it. */
export const HEADER_FIXED_BYTES = 32;
const NONCE_PREFIX_BYTES = 8;
export const TAG_BYTES = 16;
export const FRAME_WORD_BYTES = 4;
const FINAL_BIT = 0x8000_0000;
const LENGTH_MASK = 0x7fff_ffff;
/** The nonce carries the sequence number in 32 bits. */
const MAX_FRAMES = 2 ** 32;

export const DEFAULT_FRAME_SIZE = 1024 * 1024;
/** The largest buffer either side allocates per step, whatever the frame size. */
const PIECE_BYTES = 64 * 1024;
export const MIN_FRAME_SIZE = 1024;
export const MAX_FRAME_SIZE = 64 * 1024 * 1024;

export interface FrameHeader {
  readonly frameSize: number;
  readonly keyId: string;
  readonly wrappedKey: Buffer;
  readonly noncePrefix: Buffer;
  /** The header's bytes as stored; part of every frame's AAD. */
  readonly bytes: Buffer;
}

const integrity = (message: string, cause?: unknown): CofferError =>
  new CofferError('INTEGRITY', `backup object: ${message}`, cause === undefined ? undefined : { cause });

export function assertFrameSize(frameSize: number): void {
  if (!Number.isInteger(frameSize) || frameSize < MIN_FRAME_SIZE || frameSize > MAX_FRAME_SIZE) {
    throw new CofferError(
      'INVALID_ARGUMENT',
      `frame size must be an integer from ${MIN_FRAME_SIZE} to ${MAX_FRAME_SIZE} bytes (got ${frameSize})`,
    );
  }
}

function encodeHeader(frameSize: number, dataKey: DataKey, noncePrefix: Buffer): Buffer {
  const h = Buffer.alloc(HEADER_FIXED_BYTES + dataKey.wrappedKey.length);
  MAGIC.copy(h, 0);
  h.writeUInt8(FORMAT_VERSION, 8);
  h.writeUInt8(CIPHER_AES_256_GCM, 9);
  h.writeUInt8(KEY_WRAP_AES_256_KW, 10);
  h.writeUInt8(dataKey.wrappedKey.length, 11);
  h.writeUInt32BE(frameSize, 12);
  Buffer.from(dataKey.keyId, 'hex').copy(h, 16);
  noncePrefix.copy(h, 24);
  dataKey.wrappedKey.copy(h, HEADER_FIXED_BYTES);
  return h;
}

/** Parses a header from the start of `buf`; undefined if more bytes are needed. */
function decodeHeader(buf: Buffer): FrameHeader | undefined {
  const magicSeen = buf.subarray(0, Math.min(buf.length, MAGIC.length));
  if (!magicSeen.equals(MAGIC.subarray(0, magicSeen.length))) throw integrity('not a Coffer encrypted backup (bad magic)');
  if (buf.length < HEADER_FIXED_BYTES) return undefined;
  const version = buf.readUInt8(8);
  if (version !== FORMAT_VERSION) throw integrity(`unsupported format version ${version}`);
  if (buf.readUInt8(9) !== CIPHER_AES_256_GCM || buf.readUInt8(10) !== KEY_WRAP_AES_256_KW) {
    throw integrity(`unsupported cipher ${buf.readUInt8(9)} or key wrap ${buf.readUInt8(10)}`);
  }
  const wrappedLength = buf.readUInt8(11);
  const frameSize = buf.readUInt32BE(12);
  if (frameSize < MIN_FRAME_SIZE || frameSize > MAX_FRAME_SIZE) throw integrity(`frame size ${frameSize} out of range`);
  const total = HEADER_FIXED_BYTES + wrappedLength;
  if (buf.length < total) return undefined;
  const bytes = Buffer.from(buf.subarray(0, total));
  return {
    frameSize,
    keyId: bytes.subarray(16, 16 + KEY_ID_BYTES).toString('hex'),
    noncePrefix: bytes.subarray(24, 24 + NONCE_PREFIX_BYTES),
    wrappedKey: bytes.subarray(HEADER_FIXED_BYTES, total),
    bytes,
  };
}

function nonceFor(prefix: Buffer, seq: number): Buffer {
  const n = Buffer.alloc(12);
  prefix.copy(n, 0);
  n.writeUInt32BE(seq, 8);
  return n;
}

/** AAD = header || seq (u32 BE) || frame word (u32 BE: final bit + length). */
function aadFor(header: Buffer, seq: number, word: number): Buffer {
  const tail = Buffer.alloc(8);
  tail.writeUInt32BE(seq, 0);
  tail.writeUInt32BE(word >>> 0, 4);
  return Buffer.concat([header, tail]);
}

export interface EncryptorOptions {
  readonly dataKey: DataKey;
  readonly frameSize?: number;
}

/** Plaintext in, header + frames out. */
export class FrameEncryptor extends Transform {
  readonly header: Buffer;
  readonly frameSize: number;
  private readonly key: Buffer;
  private readonly noncePrefix: Buffer;
  private readonly pending: Buffer;
  private fill = 0;
  private seq = 0;
  private headerSent = false;

  constructor(opts: EncryptorOptions) {
    const frameSize = opts.frameSize ?? DEFAULT_FRAME_SIZE;
    assertFrameSize(frameSize);
    super({ readableHighWaterMark: frameSize + FRAME_WORD_BYTES + TAG_BYTES });
    this.frameSize = frameSize;
    this.key = opts.dataKey.key;
    // Random per object: nonces stay unique even if a data key were reused by mistake.
    this.noncePrefix = randomBytes(NONCE_PREFIX_BYTES);
    this.header = encodeHeader(frameSize, opts.dataKey, this.noncePrefix);
    this.pending = Buffer.allocUnsafe(frameSize);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.sendHeader();
      let off = 0;
      while (off < chunk.length) {
        // A full frame is sealed only once more input arrives, so that the
        // final frame always carries data (unless the whole input is empty).
        if (this.fill === this.frameSize) {
          this.seal(false);
        }
        const n = Math.min(this.frameSize - this.fill, chunk.length - off);
        chunk.copy(this.pending, this.fill, off, off + n);
        this.fill += n;
        off += n;
      }
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      this.sendHeader();
      this.seal(true);
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  private sendHeader(): void {
    if (this.headerSent) return;
    this.headerSent = true;
    this.push(this.header);
  }

  private seal(final: boolean): void {
    if (this.seq >= MAX_FRAMES) throw new CofferError('INVALID_ARGUMENT', 'backup too large for this frame size');
    const word = (final ? FINAL_BIT : 0) | this.fill;
    const c = createCipheriv('aes-256-gcm', this.key, nonceFor(this.noncePrefix, this.seq));
    c.setAAD(aadFor(this.header, this.seq, word));
    const w = Buffer.allocUnsafe(FRAME_WORD_BYTES);
    w.writeUInt32BE(word >>> 0, 0);
    this.push(w);
    // Ciphertext in pieces no larger than the pipes' own chunks: a fresh
    // 1 MiB buffer per frame is what glibc's malloc keeps for good once its
    // mmap threshold has grown past it (the agent's RSS crept up by tens of
    // MB a backup); 64 KiB pieces are reused from its free lists.
    for (let off = 0; off < this.fill; off += PIECE_BYTES) {
      this.push(c.update(this.pending.subarray(off, Math.min(this.fill, off + PIECE_BYTES))));
    }
    c.final(); // GCM emits nothing at final (no padding); it computes the tag.
    this.push(c.getAuthTag());
    this.seq += 1;
    this.fill = 0;
  }
}

/**
 * A data key handed to the reader unwrapped, for an object whose header
 * names a wrapping key the reader does not hold (a backup taken before
 * per-project keys, whose data key the control wrapped again for the
 * restoring instance: docs/backup-format.md "Keys"). A wrong key fails
 * frame 0's tag, whose AAD is the header: nothing is released.
 */
export interface HandedDataKey {
  /** The key id the object's header must name. */
  readonly keyId: string;
  readonly key: Buffer;
}

export interface DecryptorOptions {
  readonly wrappingKey: Buffer;
  /** Used instead of unwrapping the header's wrapped key when the header names its keyId. */
  readonly dataKey?: HandedDataKey;
  /**
   * The exact header a previous verify pass saw: the object must still be
   * that object (same data key, same nonce prefix), or nothing is released.
   */
  readonly expectHeader?: Buffer;
}

/**
 * Header + frames in, plaintext out; a frame's plaintext is released only
 * after its tag verifies. The ciphertext is decrypted piece by piece as it
 * arrives (GCM needs the tag only at the end), so no frame is ever copied
 * into one buffer: the plaintext waits as the pieces it came in.
 */
export class FrameDecryptor extends Transform {
  header: FrameHeader | undefined;
  /** Frames authenticated so far. */
  frames = 0;
  private key: Buffer | undefined;
  /** Bytes of a header, frame word or tag gathered so far (small). */
  private small: Buffer[] = [];
  private smallBytes = 0;
  private state: 'header' | 'word' | 'body' | 'tag' | 'done' = 'header';
  private word = 0;
  private left = 0;
  private decipher: DecipherGCM | undefined;
  private held: Buffer[] = [];

  constructor(private readonly opts: DecryptorOptions) {
    super({ readableHighWaterMark: DEFAULT_FRAME_SIZE });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      let off = 0;
      while (off < chunk.length) off += this.step(chunk, off);
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    if (!this.header) return cb(integrity('object ends inside its header'));
    if (this.state !== 'done') {
      return cb(integrity(`truncated: object ends after ${this.frames} frames without its final frame`));
    }
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // The data key in clear lives no longer than the stream; unauthenticated
    // plaintext is dropped.
    this.key?.fill(0);
    this.held = [];
    cb(err);
  }

  /** Consumes what it can of chunk[off..]; returns how many bytes it took. */
  private step(chunk: Buffer, off: number): number {
    switch (this.state) {
      case 'done':
        throw integrity('data after the final frame');
      case 'header': {
        const n = Math.min(chunk.length - off, HEADER_FIXED_BYTES + 255 - this.smallBytes);
        this.gather(chunk.subarray(off, off + n));
        const seen = this.gathered();
        const header = decodeHeader(seen);
        if (!header) {
          if (this.smallBytes >= HEADER_FIXED_BYTES + 255) throw integrity('header too long');
          return n;
        }
        if (this.opts.expectHeader && !header.bytes.equals(this.opts.expectHeader)) {
          throw integrity('object changed since it was verified (different header)');
        }
        const handed = this.opts.dataKey;
        // A copy: _destroy zeroes this stream's key, and the handed one serves both passes.
        this.key = handed && handed.keyId === header.keyId ? Buffer.from(handed.key) : unwrapDataKey(header.wrappedKey, this.opts.wrappingKey, header.keyId);
        this.header = header;
        // What followed the header in this chunk is the first frame's: hand it back.
        const extra = seen.length - header.bytes.length;
        this.reset('word');
        return n - extra;
      }
      case 'word': {
        const n = Math.min(chunk.length - off, FRAME_WORD_BYTES - this.smallBytes);
        this.gather(chunk.subarray(off, off + n));
        if (this.smallBytes < FRAME_WORD_BYTES) return n;
        this.startFrame(this.gathered().readUInt32BE(0));
        return n;
      }
      case 'body': {
        const n = Math.min(chunk.length - off, this.left);
        const plain = this.decipher!.update(chunk.subarray(off, off + n));
        if (plain.length > 0) this.held.push(plain);
        this.left -= n;
        if (this.left === 0) this.reset('tag');
        return n;
      }
      case 'tag': {
        const n = Math.min(chunk.length - off, TAG_BYTES - this.smallBytes);
        this.gather(chunk.subarray(off, off + n));
        if (this.smallBytes < TAG_BYTES) return n;
        this.finishFrame(this.gathered());
        return n;
      }
    }
  }

  private startFrame(word: number): void {
    const { frameSize, noncePrefix, bytes } = this.header as FrameHeader;
    const final = (word & FINAL_BIT) !== 0;
    const length = word & LENGTH_MASK;
    // Checked before any of the frame is taken, so a forged length cannot make us hold more than a frame.
    const lengthOk = final ? length <= frameSize && (length > 0 || this.frames === 0) : length === frameSize;
    if (!lengthOk) throw integrity(`frame ${this.frames} has an invalid length ${length}`);
    if (this.frames >= MAX_FRAMES) throw integrity('too many frames');
    this.word = word;
    this.left = length;
    this.decipher = createDecipheriv('aes-256-gcm', this.key as Buffer, nonceFor(noncePrefix, this.frames));
    this.decipher.setAAD(aadFor(bytes, this.frames, word));
    this.reset(length > 0 ? 'body' : 'tag');
  }

  private finishFrame(tag: Buffer): void {
    const d = this.decipher as DecipherGCM;
    d.setAuthTag(Buffer.from(tag));
    try {
      d.final();
    } catch (err) {
      // The plaintext held for this frame is dropped: nothing unauthenticated leaves.
      this.held = [];
      throw integrity(`frame ${this.frames} failed authentication (altered, reordered or from another backup)`, err);
    }
    for (const p of this.held) this.push(p);
    this.held = [];
    this.decipher = undefined;
    this.frames += 1;
    this.reset((this.word & FINAL_BIT) !== 0 ? 'done' : 'word');
  }

  private gather(part: Buffer): void {
    if (part.length === 0) return;
    this.small.push(part);
    this.smallBytes += part.length;
  }

  private gathered(): Buffer {
    return this.small.length === 1 ? this.small[0]! : Buffer.concat(this.small, this.smallBytes);
  }

  private reset(state: FrameDecryptor['state']): void {
    this.state = state;
    this.small = [];
    this.smallBytes = 0;
  }
}
