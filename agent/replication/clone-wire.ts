// The wire of a replica's clone (docs/replication.md, "Cloned from the
// source"): what the replica's agent and the source's one-shot endpoint
// (clone-endpoint.ts) say to each other over their TLS connection.
//
//   replica -> source: one line, "COFFER-CLONE 1 <compression> <ticket>\n"
//   source -> replica: one line, "OK <tool>\n" or "ERR <reason>\n" (then closes)
//   source -> replica: frames: a 4-byte big-endian length n > 0 and n bytes
//                      of the copy (compressed as asked), then a 0 length,
//                      a 4-byte length and the trailer (JSON, CloneTrailer)
//
// The frames make a truncated copy and a failed tool detectable: a copy is
// whole only once the trailer arrived, says the tool exited 0 and counts
// exactly the bytes received. The decoder fails its stream otherwise, so
// whatever reads it (mbstream, through feedTool) never finishes on a prefix.
import { Transform, type TransformCallback } from 'node:stream';
import { CofferError } from '../../lib/coded-error.js';
import { YoungCollector } from '../../lib/young-gc.js';

export const CLONE_MAGIC = 'COFFER-CLONE';
export const CLONE_VERSION = '1';
/** Compressions the wire carries: zstd -1 or none. */
export const CLONE_COMPRESSIONS = ['none', 'zstd'] as const;
export type CloneCompression = (typeof CLONE_COMPRESSIONS)[number];
/** How long an endpoint waits for its one connection, by default and at most. */
export const DEFAULT_CLONE_TTL_SECONDS = 600;
export const MAX_CLONE_TTL_SECONDS = 3600;
/** The wire's compression when the request names none (docs/performance.md measured both). */
export const DEFAULT_CLONE_COMPRESSION: CloneCompression = 'none';
/** A ticket is 32 random bytes in hex. */
export const TICKET_PATTERN = /^[0-9a-f]{64}$/;
/** The longest line either side sends before the frames. */
export const MAX_LINE = 4096;
const MAX_TRAILER = 64 * 1024;

/** What the source says after the last byte of the copy. */
export interface CloneTrailer {
  /** Bytes of the copy as sent (after compression), every frame's payload. */
  readonly bytes: number;
  /** The tool's exit: 0, or non-zero when it failed (then `error` says why). */
  readonly exit: number;
  /** Why the copy failed, naming the tool, with its last stderr lines. */
  readonly error?: string;
  /** Where the copy ends: the GTID position at the tool's consistency point. */
  readonly position: string;
  /** The tool that made the copy (mariadb-backup). */
  readonly tool: string;
}

export function helloLine(compression: CloneCompression, ticket: string): string {
  return `${CLONE_MAGIC} ${CLONE_VERSION} ${compression} ${ticket}\n`;
}

/** Parses the replica's first line; throws a message safe to send back (it never echoes the ticket). */
export function parseHello(line: string): { compression: CloneCompression; ticket: string } {
  const parts = line.trim().split(' ');
  if (parts.length !== 4 || parts[0] !== CLONE_MAGIC) throw new Error('not a clone request');
  if (parts[1] !== CLONE_VERSION) throw new Error(`clone protocol version ${JSON.stringify(parts[1]!.slice(0, 8))} is not supported (this source speaks ${CLONE_VERSION})`);
  const compression = parts[2] as CloneCompression;
  if (!(CLONE_COMPRESSIONS as readonly string[]).includes(compression)) throw new Error(`compression ${JSON.stringify(parts[2]!.slice(0, 16))} is not one of ${CLONE_COMPRESSIONS.join(', ')}`);
  return { compression, ticket: parts[3]! };
}

const u32 = (n: number): Buffer => {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n, 0);
  return b;
};

/** A frame's header: the length of the bytes that follow (n > 0). */
export function frameHeader(n: number): Buffer {
  return u32(n);
}

/** The bytes that close a copy: the 0 length and the trailer. */
export function closingFrame(trailer: CloneTrailer): Buffer {
  const json = Buffer.from(JSON.stringify(trailer));
  return Buffer.concat([u32(0), u32(json.length), json]);
}

/**
 * The replica's side: the frames' payload out, the trailer checked at the
 * end. A stream that ends before its trailer, a trailer that reports a
 * failed tool, or one whose count differs from what arrived fails the
 * output stream (DATASTORE, or INTEGRITY for a count that disagrees).
 */
export class FrameDecoder extends Transform {
  bytes = 0;
  trailer: CloneTrailer | undefined;
  private pending: Buffer[] = [];
  private pendingLen = 0;
  /** Bytes still to pass of the current frame; -1 while reading a length. */
  private left = -1;
  private inTrailer = false;
  /** The dead Buffers of each few MiB freed by a scavenge, not a full GC (lib/young-gc.ts). */
  private readonly young = new YoungCollector();

  constructor(private readonly where: string) {
    super({ writableHighWaterMark: 1024 * 1024, readableHighWaterMark: 1024 * 1024 });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.young.add(chunk.length);
    try {
      let buf = chunk;
      while (buf.length > 0) {
        if (this.trailer) throw new CofferError('INTEGRITY', `the clone from ${this.where} sent bytes after its trailer`);
        if (this.left > 0) {
          // Payload passes through without a copy.
          const n = Math.min(this.left, buf.length);
          this.push(buf.subarray(0, n));
          this.bytes += n;
          this.left -= n;
          buf = buf.subarray(n);
          if (this.left === 0) this.left = -1;
          continue;
        }
        // A length (or the trailer), which may straddle chunks.
        const need = this.inTrailer ? this.trailerLen() : 4;
        const take = Math.min(need - this.pendingLen, buf.length);
        this.pending.push(buf.subarray(0, take));
        this.pendingLen += take;
        buf = buf.subarray(take);
        if (this.pendingLen < need) continue;
        const whole = Buffer.concat(this.pending);
        this.pending = [];
        this.pendingLen = 0;
        this.onHeader(whole);
      }
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  private trailerBytes = -1;
  private trailerLen(): number {
    return this.trailerBytes < 0 ? 4 : this.trailerBytes;
  }

  private onHeader(b: Buffer): void {
    if (!this.inTrailer) {
      const n = b.readUInt32BE(0);
      if (n > 0) {
        this.left = n;
        return;
      }
      this.inTrailer = true;
      return;
    }
    if (this.trailerBytes < 0) {
      const n = b.readUInt32BE(0);
      if (n === 0 || n > MAX_TRAILER) throw new CofferError('INTEGRITY', `the clone from ${this.where} sent a trailer of ${n} bytes`);
      this.trailerBytes = n;
      return;
    }
    let t: CloneTrailer;
    try {
      t = JSON.parse(b.toString('utf8')) as CloneTrailer;
    } catch {
      throw new CofferError('INTEGRITY', `the clone from ${this.where} sent a trailer that is not JSON`);
    }
    this.trailer = t;
  }

  override _flush(cb: TransformCallback): void {
    const t = this.trailer;
    if (!t) {
      return cb(new CofferError('DATASTORE', `the clone from ${this.where} ended after ${this.bytes} bytes without its trailer: the copy is truncated (the source or the connection went away)`));
    }
    if (t.exit !== 0 || t.error) {
      return cb(new CofferError('DATASTORE', `the source's ${t.tool || 'copy'} failed after ${this.bytes} bytes: ${t.error ?? `exit ${t.exit}`}`));
    }
    if (t.bytes !== this.bytes) {
      return cb(new CofferError('INTEGRITY', `the clone from ${this.where} received ${this.bytes} bytes, but the source sent ${t.bytes}`));
    }
    cb();
  }
}
