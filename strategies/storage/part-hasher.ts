// Digests of upload parts (the MD5 a Swift segment's ETag and an S3 part's
// Content-MD5 carry, the sha256 an S3 request's signature covers) computed
// on a worker thread, so that the event-loop thread only moves bytes: on a
// busy machine a second thread gets its own share of the CPU, on an idle one
// its own core. Parts in shared memory (part-pool.ts) are hashed in place,
// not copied; any other buffer is hashed on the calling thread.
//
// The worker is started on the first part and ended by close(). If it dies
// (an exception, an exit, terminate() from outside), the parts it was
// hashing and every later one are hashed on the calling thread instead: the
// upload goes on, only slower, and `onFallback` hears why once.
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

export type PartDigest = 'md5' | 'sha256';

interface Job {
  readonly part: Uint8Array;
  readonly algorithms: readonly PartDigest[];
  readonly resolve: (digests: Buffer[]) => void;
  readonly reject: (err: Error) => void;
}

// Plain JavaScript, run with `eval` so it needs no file of its own next to
// the compiled output (nor a TypeScript loader in tests).
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
parentPort.on('message', ({ id, buffer, offset, length, algorithms }) => {
  const view = new Uint8Array(buffer, offset, length);
  parentPort.postMessage({ id, digests: algorithms.map((a) => createHash(a).update(view).digest()) });
});
`;

const digestHere = (part: Uint8Array, algorithms: readonly PartDigest[]): Buffer[] =>
  algorithms.map((a) => createHash(a).update(part).digest());

export interface PartHasherOptions {
  /** Told once, with the reason, when the worker died and hashing moved to this thread. */
  readonly onFallback?: (reason: string) => void;
  /** The worker's code; tests pass one that dies (fault injection). */
  readonly workerSource?: string;
}

export class PartHasher {
  private worker: Worker | null = null;
  /** Set once the worker died or the hasher was closed: hash here from then on. */
  private inline = false;
  private nextId = 1;
  private readonly jobs = new Map<number, Job>();

  constructor(private readonly opts: PartHasherOptions = {}) {}

  /** The digests of `part`, in the order of `algorithms`. */
  digest(part: Uint8Array, algorithms: readonly PartDigest[]): Promise<Buffer[]> {
    if (this.inline || !(part.buffer instanceof SharedArrayBuffer)) return Promise.resolve(digestHere(part, algorithms));
    const worker = this.start();
    const id = this.nextId++;
    return new Promise<Buffer[]>((resolve, reject) => {
      this.jobs.set(id, { part, algorithms, resolve, reject });
      // A part waiting on the worker keeps the process alive (an idle worker does not).
      if (this.jobs.size === 1) worker.ref();
      worker.postMessage({ id, buffer: part.buffer, offset: part.byteOffset, length: part.byteLength, algorithms });
    });
  }

  /** Ends the worker; later digests are computed on this thread. */
  async close(): Promise<void> {
    this.inline = true;
    const w = this.worker;
    this.worker = null;
    this.hashLeftHere();
    if (w) await w.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(this.opts.workerSource ?? WORKER_SOURCE, { eval: true });
    // An idle hasher must not keep the process alive (close() ends it);
    // digest() refs it while a part waits on it, or a process with nothing
    // else to do would exit under a pending digest.
    w.unref();
    w.on('message', (m: { id: number; digests: Uint8Array[] }) => {
      const job = this.jobs.get(m.id);
      if (!job) return;
      this.jobs.delete(m.id);
      if (this.jobs.size === 0) w.unref();
      job.resolve(m.digests.map((d) => Buffer.from(d.buffer, d.byteOffset, d.byteLength)));
    });
    const died = (why: string): void => {
      if (this.worker !== w) return; // closed on purpose
      this.worker = null;
      this.inline = true;
      this.opts.onFallback?.(why);
      this.hashLeftHere();
    };
    w.on('error', (err) => died(`the hashing thread failed: ${err.message}`));
    w.on('exit', (code) => died(`the hashing thread exited with code ${code}`));
    this.worker = w;
    return w;
  }

  /** The parts the worker had not answered for yet: their bytes are still held by their callers. */
  private hashLeftHere(): void {
    for (const [id, job] of this.jobs) {
      this.jobs.delete(id);
      try {
        job.resolve(digestHere(job.part, job.algorithms));
      } catch (err) {
        job.reject(err instanceof Error ? err : new Error(String(err)));
      }
    }
  }
}
