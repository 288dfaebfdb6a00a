// One object uploaded to S3: a multipart upload whose parts go up in
// parallel, each with its Content-MD5 and its returned ETag checked; an
// object smaller than one part is a single PutObject.
//
// Memory bound: concurrency x partSize. A part is only filled while fewer
// than `concurrency` are in flight (part-window.ts): after starting one,
// write() waits for a free slot before it takes more bytes, so the stream's
// backpressure holds the producer back (concurrency 1 means strictly one
// part at a time). Each part is retried on its own (s3-client.ts: the
// client's retry strategy, lib/retryable.ts deciding which failures).
//
// The event-loop thread only copies and sends: a part's MD5 (Content-MD5)
// and sha256 (the payload hash the request's signature covers, which the
// SDK would otherwise compute on this thread) come from a worker thread
// (part-hasher.ts), and a part's buffer is reused once its upload is done
// (part-pool.ts).
import type { CompletedPart, S3Client } from '@aws-sdk/client-s3';
import { s3Sdk } from './s3-sdk.js';
import type { SavedObject } from './storage.js';
import type { Metadata } from './metadata.js';
import type { Upload, Written } from './object-sink.js';
import { PartBuffer } from './part-buffer.js';
import { PartHasher } from './part-hasher.js';
import { PartPool } from './part-pool.js';
import { PartWindow } from './part-window.js';
import { integrityFailed, isCofferError, reason, storageFailed } from './errors.js';

export interface S3Target {
  readonly bucket: string;
  readonly key: string;
  readonly partSize: number;
  readonly concurrency: number;
  readonly metadata: Metadata;
  /** Compare returned ETags with the MD5 sent (off for SSE-KMS/SSE-C buckets, whose ETags are not MD5s). */
  readonly checkEtags: boolean;
}

/** S3 allows at most 10,000 parts per upload. */
const MAX_PARTS = 10_000;

/** The SigV4 header naming the body's sha256; the signer uses a value already there instead of hashing the body itself. */
const PAYLOAD_HASH_HEADER = 'x-amz-content-sha256';

const unquote = (etag: string | undefined): string => (etag ?? '').replace(/^"|"$/g, '');

/** What withPayloadHash needs of a command: its own middleware stack. */
interface HasMiddleware {
  readonly middlewareStack: {
    add(middleware: (next: (args: { request: unknown }) => unknown) => (args: { request: unknown }) => unknown, options: { step: 'build'; name: string }): void;
  };
}

/** Adds the payload hash to one command's request, before it is signed. */
function withPayloadHash<C>(command: C, sha256: Buffer): C {
  (command as unknown as HasMiddleware).middlewareStack.add(
    (next) => (args) => {
      const req = args.request as { headers?: Record<string, string> };
      if (req.headers) req.headers[PAYLOAD_HASH_HEADER] = sha256.toString('hex');
      return next(args);
    },
    { step: 'build', name: 'cofferPayloadHash' },
  );
  return command;
}

export class S3MultipartUpload implements Upload {
  private readonly parts: PartBuffer;
  private readonly pool: PartPool;
  private readonly hasher = new PartHasher();
  private readonly label: string;
  private created: Promise<string> | null = null;
  private partCount = 0;
  private readonly done: CompletedPart[] = [];
  private readonly window: PartWindow;
  private putStarted = false;

  constructor(
    private readonly client: S3Client,
    private readonly target: S3Target,
  ) {
    this.pool = new PartPool(target.partSize);
    this.parts = new PartBuffer(target.partSize, () => this.pool.take());
    this.window = new PartWindow(target.concurrency);
    this.label = `${target.bucket}/${target.key}`;
  }

  async write(chunk: Buffer, signal: AbortSignal): Promise<void> {
    for (const part of this.parts.push(chunk)) await this.schedule(part, signal);
  }

  /** Part buffers allocated by this upload so far: never more than concurrency. */
  get buffersAllocated(): number {
    return this.pool.allocated;
  }

  async commit(written: Written, signal: AbortSignal): Promise<SavedObject> {
    const rest = this.parts.takeRest();
    try {
      if (this.created === null) await this.putWhole(rest, signal);
      else {
        if (rest.length > 0) await this.schedule(rest, signal);
        await this.window.drain();
        await this.complete(signal);
      }
    } finally {
      await this.release();
    }
    return { storage: 's3', location: this.label, size: written.size, sha256: written.sha256 };
  }

  async abort(): Promise<void> {
    await this.window.stop();
    await this.release();
    const { bucket: Bucket, key: Key } = this.target;
    if (this.putStarted) {
      await this.call(`DeleteObject ${this.label}`, () => this.client.send(new (s3Sdk().DeleteObjectCommand)({ Bucket, Key })));
    }
    if (this.created === null) return;
    const uploadId = await this.created.catch(() => null);
    if (uploadId === null) return;
    try {
      await this.client.send(new (s3Sdk().AbortMultipartUploadCommand)({ Bucket, Key, UploadId: uploadId }));
    } catch (err) {
      throw storageFailed(`s3: multipart upload ${uploadId} of ${this.label} was left behind: AbortMultipartUpload failed: ${reason(err)}`, err);
    }
  }

  private async release(): Promise<void> {
    this.pool.clear();
    await this.hasher.close();
  }

  /** Starts uploading a part, then waits until another one may be filled. */
  private async schedule(part: Buffer, signal: AbortSignal): Promise<void> {
    const n = ++this.partCount;
    if (n > MAX_PARTS) throw storageFailed(`s3: ${this.label} needs more than ${MAX_PARTS} parts of ${this.target.partSize} bytes; raise the part size`);
    await this.window.start(async (partSignal) => {
      await this.uploadPart(n, part, partSignal);
      // Done with every attempt: the next part may be filled into its buffer.
      this.pool.give(part);
    }, signal);
  }

  private uploadId(signal: AbortSignal): Promise<string> {
    this.created ??= this.call(`CreateMultipartUpload ${this.label}`, async () => {
      const r = await this.client.send(
        new (s3Sdk().CreateMultipartUploadCommand)({
          Bucket: this.target.bucket,
          Key: this.target.key,
          Metadata: { ...this.target.metadata },
          ContentType: 'application/octet-stream',
        }),
        { abortSignal: signal },
      );
      if (!r.UploadId) throw storageFailed(`s3: CreateMultipartUpload ${this.label} returned no upload id`);
      return r.UploadId;
    });
    return this.created;
  }

  private async uploadPart(n: number, body: Buffer, signal: AbortSignal): Promise<void> {
    const [uploadId, [digest, sha256]] = await Promise.all([this.uploadId(signal), this.hasher.digest(body, ['md5', 'sha256'])]);
    const what = `UploadPart ${n} of ${this.label}`;
    const r = await this.call(what, () =>
      this.client.send(
        withPayloadHash(new (s3Sdk().UploadPartCommand)({
          Bucket: this.target.bucket,
          Key: this.target.key,
          UploadId: uploadId,
          PartNumber: n,
          Body: body,
          ContentLength: body.length,
          ContentMD5: digest!.toString('base64'),
        }), sha256!),
        { abortSignal: signal },
      ),
    );
    if (this.target.checkEtags && unquote(r.ETag) !== digest!.toString('hex')) {
      throw integrityFailed(`s3: ${what} failed: server ETag "${unquote(r.ETag)}" does not match the part's MD5 ${digest!.toString('hex')}`);
    }
    this.done.push({ PartNumber: n, ETag: r.ETag });
  }

  private async complete(signal: AbortSignal): Promise<void> {
    const uploadId = await this.uploadId(signal);
    const parts = [...this.done].sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    await this.call(`CompleteMultipartUpload ${this.label} (${parts.length} parts)`, () =>
      this.client.send(
        new (s3Sdk().CompleteMultipartUploadCommand)({
          Bucket: this.target.bucket,
          Key: this.target.key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
        { abortSignal: signal },
      ),
    );
  }

  private async putWhole(body: Buffer, signal: AbortSignal): Promise<void> {
    const what = `PutObject ${this.label}`;
    const [digest, sha256] = await this.hasher.digest(body, ['md5', 'sha256']);
    this.putStarted = true;
    const r = await this.call(what, () =>
      this.client.send(
        withPayloadHash(new (s3Sdk().PutObjectCommand)({
          Bucket: this.target.bucket,
          Key: this.target.key,
          Body: body,
          ContentLength: body.length,
          ContentMD5: digest!.toString('base64'),
          ContentType: 'application/octet-stream',
          Metadata: { ...this.target.metadata },
        }), sha256!),
        { abortSignal: signal },
      ),
    );
    if (this.target.checkEtags && unquote(r.ETag) !== digest!.toString('hex')) {
      throw integrityFailed(`s3: ${what} failed: server ETag "${unquote(r.ETag)}" does not match the object's MD5 ${digest!.toString('hex')}`);
    }
  }

  /** Runs one SDK call; failures become storage errors naming the call. */
  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (isCofferError(err)) throw err;
      throw storageFailed(`s3: ${what} failed: ${describeSdkError(err)}`, err);
    }
  }
}

/** "503 ServiceUnavailable: <message>", from what the SDK attaches to its errors. */
export function describeSdkError(err: unknown): string {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e?.$metadata?.httpStatusCode;
  return [status, e?.name].filter(Boolean).join(' ') + (e?.message ? `: ${reason(err)}` : '');
}
