// One object uploaded to Swift as a Static Large Object: bytes are cut into
// segments, up to `concurrency` of them PUT at once (each retried on its own)
// while each MD5 is checked against the ETag the server returns, then a
// manifest listing them in order is PUT with every metadata header. An
// object that fits in one segment is PUT as a plain object.
//
// Memory bound: concurrency x segmentSize (the segments in flight and the
// one being filled together, part-window.ts), plus the chunk the stream is
// handing over: write() resolves only when another segment may be filled,
// so the stream's backpressure holds the producer back. Concurrency 1 is
// strictly one segment at a time. A segment's buffer is reused for a later
// one once its PUT is done (part-pool.ts), and its MD5 is computed on a
// worker thread (part-hasher.ts): the event loop only copies and sends.
import { createHash, randomBytes } from 'node:crypto';
import type { SavedObject } from './storage.js';
import type { Metadata } from './metadata.js';
import type { Upload, Written } from './object-sink.js';
import { PartBuffer } from './part-buffer.js';
import { PartHasher } from './part-hasher.js';
import { PartPool } from './part-pool.js';
import { PartWindow } from './part-window.js';
import { discard, encodePath, type SwiftHttp } from './swift-http.js';
import { integrityFailed, reason, storageFailed } from './errors.js';

export interface SwiftTarget {
  readonly container: string;
  readonly name: string;
  readonly segmentContainer: string;
  readonly segmentSize: number;
  /** Segments PUT at once. */
  readonly concurrency: number;
  /** Swift's max_manifest_segments (1000 by default). */
  readonly maxSegments: number;
  readonly metadata: Metadata;
}

interface Segment {
  readonly path: string;
  readonly etag: string;
  readonly size_bytes: number;
}

/**
 * Segments of one upload share a folder below the object's name, stamped
 * with when the upload started and a random tag: "<name>/slo/<ms>-<tag>/00000001".
 */
const segmentFolder = (name: string, startedAt: number): string => `${name}/slo/${startedAt}-${randomBytes(4).toString('hex')}/`;
const SEGMENT = /^(.+)\/slo\/(\d+)-[0-9a-f]{8}\/\d{8}$/;

/** The object and upload a segment name belongs to, or null for a name no upload wrote. */
export function parseSegmentName(segment: string): { name: string; upload: string; startedAt: number } | null {
  const m = SEGMENT.exec(segment);
  if (!m) return null;
  return { name: m[1]!, upload: segment.slice(0, segment.lastIndexOf('/') + 1), startedAt: Number(m[2]) };
}

const md5 = (data: Uint8Array): string => createHash('md5').update(data).digest('hex');
const unquote = (etag: string | null): string => (etag ?? '').replace(/^"|"$/g, '');
const metaHeaders = (metadata: Metadata): Record<string, string> =>
  Object.fromEntries(Object.entries(metadata).map(([k, v]) => [`X-Object-Meta-${k}`, v]));

export class SwiftSloUpload implements Upload {
  private readonly parts: PartBuffer;
  private readonly pool: PartPool;
  private readonly hasher: PartHasher;
  private readonly window: PartWindow;
  /** Segments cut so far; the next one is number segmentCount + 1. */
  private segmentCount = 0;
  /** Uploaded segments by number - 1 (they may finish out of order). */
  private readonly segments: Segment[] = [];
  /** Every segment name a PUT was started for: an interrupted PUT may still have landed. */
  private readonly started: string[] = [];
  /** Whether a PUT of the object itself (plain or manifest) was started. */
  private objectStarted = false;
  /** Per-upload, so a retried backup under the same key never overwrites live segments. */
  private readonly segmentPrefix: string;
  private readonly label: string;

  constructor(
    private readonly http: SwiftHttp,
    private readonly target: SwiftTarget,
    private readonly ready: (signal: AbortSignal) => Promise<void>,
    onHasherFallback?: (reason: string) => void,
  ) {
    this.pool = new PartPool(target.segmentSize);
    this.parts = new PartBuffer(target.segmentSize, () => this.pool.take());
    this.hasher = new PartHasher({ onFallback: onHasherFallback });
    this.window = new PartWindow(target.concurrency);
    this.segmentPrefix = segmentFolder(target.name, Date.now());
    this.label = `${target.container}/${target.name}`;
  }

  async write(chunk: Buffer, signal: AbortSignal): Promise<void> {
    for (const segment of this.parts.push(chunk)) await this.schedule(segment, signal);
  }

  /** Segment buffers allocated by this upload so far: never more than concurrency. */
  get buffersAllocated(): number {
    return this.pool.allocated;
  }

  async commit(written: Written, signal: AbortSignal): Promise<SavedObject> {
    const rest = this.parts.takeRest();
    try {
      if (this.segmentCount === 0) await this.putWhole(rest, signal);
      else {
        if (rest.length > 0) await this.schedule(rest, signal);
        await this.window.drain();
        await this.putManifest(signal);
      }
    } finally {
      await this.release();
    }
    return { storage: 'swift', location: this.label, size: written.size, sha256: written.sha256 };
  }

  async abort(): Promise<void> {
    // A segment PUT still running could land after its delete.
    await this.window.stop();
    await this.release();
    const left: string[] = [];
    let firstError: unknown = null;
    const remove = async (container: string, name: string): Promise<void> => {
      const label = `${container}/${name}`;
      // Once a delete has failed through all its retries the store is most
      // likely unreachable: report the rest instead of waiting on each.
      if (firstError !== null) return void left.push(label);
      try {
        await discard(await this.http.send({ method: 'DELETE', path: encodePath(container, name), what: `DELETE ${label}`, accept: [404] }));
      } catch (err) {
        firstError = err;
        left.push(label);
      }
    };
    if (this.objectStarted) await remove(this.target.container, this.target.name);
    for (const name of this.started) await remove(this.target.segmentContainer, name);
    if (left.length === 0) return;
    const what =
      left.length <= 5
        ? left.join(', ')
        : `${left.length} objects, ${left.length - (this.objectStarted ? 1 : 0)} of them segments under ${this.target.segmentContainer}/${this.segmentPrefix}`;
    throw storageFailed(`swift: could not remove what was uploaded of ${this.label}: ${what} (${reason(firstError)})`);
  }

  private async release(): Promise<void> {
    this.pool.clear();
    await this.hasher.close();
  }

  /** Starts the PUT of the next segment, then waits until another one may be filled. */
  private async schedule(data: Uint8Array, signal: AbortSignal): Promise<void> {
    const n = ++this.segmentCount;
    await this.window.start((partSignal) => this.putSegment(n, data, partSignal), signal);
  }

  private async putSegment(n: number, data: Uint8Array, signal: AbortSignal): Promise<void> {
    await this.sendSegment(n, data, signal);
    // Done with every attempt: the next segment may be filled into its buffer.
    this.pool.give(data);
  }

  private async sendSegment(n: number, data: Uint8Array, signal: AbortSignal): Promise<void> {
    const what = `PUT segment ${n} of ${this.label}`;
    if (n > this.target.maxSegments) {
      throw storageFailed(
        `swift: ${what} refused: the object needs more than ${this.target.maxSegments} segments of ` +
          `${this.target.segmentSize} bytes; raise the segment size`,
      );
    }
    const [digest] = await this.hasher.digest(data, ['md5']);
    await this.ready(signal);
    const name = this.segmentPrefix + String(n).padStart(8, '0');
    const sent = digest!.toString('hex');
    this.started.push(name);
    // The ETag header makes Swift refuse a corrupted body (422); checking the
    // ETag it answers catches a segment altered on the way back or stored
    // wrongly all the same: Trove hashed each segment for the same reason.
    const res = await this.http.send({
      method: 'PUT',
      path: encodePath(this.target.segmentContainer, name),
      headers: { ETag: sent, 'Content-Type': 'application/octet-stream' },
      body: data,
      what,
      signal,
    });
    await discard(res);
    const got = unquote(res.headers.get('etag'));
    if (got !== sent) throw integrityFailed(`swift: ${what} failed: server ETag "${got}" does not match the segment's MD5 ${sent}`);
    this.segments[n - 1] = { path: `/${this.target.segmentContainer}/${name}`, etag: sent, size_bytes: data.length };
  }

  private async putWhole(data: Uint8Array, signal: AbortSignal): Promise<void> {
    const [digest] = await this.hasher.digest(data, ['md5']);
    await this.ready(signal);
    const what = `PUT ${this.label}`;
    const sent = digest!.toString('hex');
    this.objectStarted = true;
    const res = await this.http.send({
      method: 'PUT',
      path: encodePath(this.target.container, this.target.name),
      headers: { ...metaHeaders(this.target.metadata), ETag: sent, 'Content-Type': 'application/octet-stream' },
      body: data,
      what,
      signal,
    });
    await discard(res);
    const got = unquote(res.headers.get('etag'));
    if (got !== sent) throw integrityFailed(`swift: ${what} failed: server ETag "${got}" does not match the object's MD5 ${sent}`);
  }

  private async putManifest(signal: AbortSignal): Promise<void> {
    const what = `PUT manifest of ${this.label} (${this.segments.length} segments)`;
    // The metadata goes on the manifest PUT: headers sent only with the
    // segments are not part of the object (Trove lost them on large backups).
    this.objectStarted = true;
    const res = await this.http.send({
      method: 'PUT',
      path: encodePath(this.target.container, this.target.name),
      query: { 'multipart-manifest': 'put' },
      headers: { ...metaHeaders(this.target.metadata), 'Content-Type': 'application/octet-stream' },
      body: JSON.stringify(this.segments),
      what,
      signal,
    });
    await discard(res);
    // An SLO's ETag is the MD5 of its segments' MD5s, in order.
    const expected = md5(Buffer.from(this.segments.map((s) => s.etag).join('')));
    const got = unquote(res.headers.get('etag'));
    if (got !== expected) throw integrityFailed(`swift: ${what} failed: server ETag "${got}" does not match the expected ${expected}`);
  }
}
