// Cuts a byte stream into fixed-size parts (Swift segments, S3 parts).
// Memory: at most one part being filled (partSize bytes); full parts are
// handed to the caller, who owns them from then on. Part buffers come from
// `take` (part-pool.ts: reused, shared memory) or are allocated here.

export class PartBuffer {
  private current: Buffer | null = null;
  private used = 0;

  constructor(
    readonly partSize: number,
    private readonly take: () => Buffer = () => Buffer.allocUnsafe(partSize),
  ) {
    if (!Number.isSafeInteger(partSize) || partSize <= 0) throw new TypeError(`part size must be a positive integer, got ${partSize}`);
  }

  /** Copies `chunk` in; returns the parts it completed, each exactly partSize bytes. */
  push(chunk: Buffer): Buffer[] {
    const full: Buffer[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      // Taken lazily so a stream that ends exactly on a part boundary
      // does not hold an empty part.
      this.current ??= this.take();
      const n = chunk.copy(this.current, this.used, offset);
      this.used += n;
      offset += n;
      if (this.used === this.partSize) {
        full.push(this.current);
        this.current = null;
        this.used = 0;
      }
    }
    return full;
  }

  /** The bytes of the unfinished last part (possibly none); empties the buffer. */
  takeRest(): Buffer {
    const rest = this.current ? this.current.subarray(0, this.used) : Buffer.alloc(0);
    this.current = null;
    this.used = 0;
    return rest;
  }
}
