// The part buffers of one upload, reused: a part's buffer goes back to the
// pool once its PUT is done (all attempts), and the next part is filled into
// it instead of a fresh allocation (fewer garbage collections of 16-64 MiB
// external buffers). Buffers live in shared memory, so that part-hasher.ts's
// worker thread can hash them in place.
//
// The pool holds no bound of its own: the upload's PartWindow does (at most
// `concurrency` parts held at once, so at most that many buffers exist);
// `allocated` lets tests check it.
export class PartPool {
  private readonly free: Buffer[] = [];
  private made = 0;

  constructor(readonly partSize: number) {
    if (!Number.isSafeInteger(partSize) || partSize <= 0) throw new TypeError(`part size must be a positive integer, got ${partSize}`);
  }

  /** Buffers created so far (the most this upload held at once). */
  get allocated(): number {
    return this.made;
  }

  /** A buffer of partSize bytes, reused if one is free (its old bytes are still in it). */
  take(): Buffer {
    const reused = this.free.pop();
    if (reused) return reused;
    this.made++;
    return Buffer.from(new SharedArrayBuffer(this.partSize));
  }

  /** Gives back the buffer a part (or a view on its start, for the last part) was filled into. */
  give(part: Uint8Array): void {
    if (!(part.buffer instanceof SharedArrayBuffer) || part.buffer.byteLength !== this.partSize || part.byteOffset !== 0) return;
    this.free.push(Buffer.from(part.buffer));
  }

  /** Drops every free buffer (the upload is over). */
  clear(): void {
    this.free.length = 0;
  }
}
