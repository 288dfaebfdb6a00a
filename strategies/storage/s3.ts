// S3 storage (AWS S3, Ceph RGW, MinIO, Swift's s3api): one bucket per
// deployment, objects named by the key save() is given, large objects as
// multipart uploads with parallel parts. The location recorded with a backup
// is "<bucket>/<key>".
import { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { s3Sdk } from './s3-sdk.js';
import type { AbandonedOptions, ObjectSink, ObjectStorage, SaveOptions, StoredObject } from './storage.js';
import { checkKey, checkPrefix, splitLocation } from './keys.js';
import { checkMetadata, type Metadata } from './metadata.js';
import { createObjectSink } from './object-sink.js';
import { describeSdkError, S3MultipartUpload } from './s3-upload.js';
import { isCofferError, objectMissing, storageFailed } from './errors.js';

export interface S3StorageOptions {
  /** Built with createS3Client (s3-client.ts), or any client set up the same way. */
  readonly client: S3Client;
  /** The deployment's backup bucket; must exist. */
  readonly bucket: string;
  /** Bytes per part; S3 needs at least 5 MiB. Default 64 MiB. */
  readonly partSize?: number;
  /** Parts uploaded at once; memory is concurrency x partSize. Default 4. */
  readonly concurrency?: number;
  /**
   * Check each returned ETag against the MD5 of what was sent (default true).
   * Content-MD5 is sent either way, so the server refuses corrupted bodies;
   * turn this off only for buckets with SSE-KMS or SSE-C, whose ETags are not MD5s.
   */
  readonly checkEtags?: boolean;
}

const MIN_PART_SIZE = 5 * 1024 * 1024;
const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024;
export const DEFAULT_PART_SIZE = 64 * 1024 * 1024;

const isNotFound = (err: unknown): boolean => {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.$metadata?.httpStatusCode === 404 || e?.name === 'NoSuchKey' || e?.name === 'NotFound';
};

export class S3Storage implements ObjectStorage {
  readonly name = 's3';
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly partSize: number;
  private readonly concurrency: number;
  private readonly checkEtags: boolean;

  constructor(opts: S3StorageOptions) {
    this.client = opts.client;
    this.bucket = checkKey(opts.bucket ?? '', 's3 bucket');
    if (this.bucket.includes('/')) throw new TypeError(`s3 bucket must not contain "/", got ${JSON.stringify(opts.bucket)}`);
    this.partSize = opts.partSize ?? DEFAULT_PART_SIZE;
    if (!Number.isSafeInteger(this.partSize) || this.partSize < MIN_PART_SIZE || this.partSize > MAX_PART_SIZE) {
      throw new TypeError(`s3 part size must be from ${MIN_PART_SIZE} to ${MAX_PART_SIZE} bytes, got ${this.partSize}`);
    }
    this.checkEtags = opts.checkEtags ?? true;
    this.concurrency = opts.concurrency ?? 4;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1 || this.concurrency > 64) {
      throw new TypeError(`s3 concurrency must be an integer from 1 to 64, got ${this.concurrency}`);
    }
  }

  save(key: string, opts: SaveOptions): ObjectSink {
    checkKey(key, 's3 key');
    const metadata = checkMetadata(opts.metadata);
    const upload = new S3MultipartUpload(this.client, {
      bucket: this.bucket,
      key,
      partSize: this.partSize,
      concurrency: this.concurrency,
      checkEtags: this.checkEtags,
      metadata,
    });
    return createObjectSink(upload, { describe: `s3 object ${this.bucket}/${key}`, signal: opts.signal });
  }

  async open(location: string, opts: { signal?: AbortSignal } = {}): Promise<StoredObject> {
    const { container: Bucket, key: Key } = splitLocation(location, 's3');
    try {
      const r = await this.client.send(new (s3Sdk().GetObjectCommand)({ Bucket, Key }), { abortSignal: opts.signal });
      // In Node the SDK's body is the HTTP response itself: a Readable.
      if (!(r.Body instanceof Readable)) throw storageFailed(`s3: GetObject ${location} returned no readable body`);
      return { stream: r.Body, size: r.ContentLength ?? 0, metadata: Object.freeze({ ...r.Metadata }) };
    } catch (err) {
      throw this.failure('GetObject', location, err);
    }
  }

  async stat(location: string): Promise<{ size: number; metadata: Metadata }> {
    const { container: Bucket, key: Key } = splitLocation(location, 's3');
    try {
      const r = await this.client.send(new (s3Sdk().HeadObjectCommand)({ Bucket, Key }));
      return { size: r.ContentLength ?? 0, metadata: Object.freeze({ ...r.Metadata }) };
    } catch (err) {
      throw this.failure('HeadObject', location, err);
    }
  }

  async delete(location: string): Promise<void> {
    const { container: Bucket, key: Key } = splitLocation(location, 's3');
    try {
      await this.client.send(new (s3Sdk().DeleteObjectCommand)({ Bucket, Key }));
      // Parts of an upload whose abort failed (reported when it happened)
      // are billed storage too; deleting the object clears them.
      const listed = await this.client.send(new (s3Sdk().ListMultipartUploadsCommand)({ Bucket, Prefix: Key }));
      for (const u of listed.Uploads ?? []) {
        if (u.Key === Key && u.UploadId) await this.client.send(new (s3Sdk().AbortMultipartUploadCommand)({ Bucket, Key, UploadId: u.UploadId }));
      }
    } catch (err) {
      if (isNotFound(err)) return;
      throw this.failure('DeleteObject', location, err);
    }
  }

  locationOf(key: string): string {
    return `${this.bucket}/${checkKey(key, 's3 key')}`;
  }

  /** Multipart uploads never completed; `startedBefore` is compared with their Initiated time, the server's clock. */
  async removeAbandoned(keyPrefix: string, opts: AbandonedOptions = {}): Promise<string[]> {
    checkPrefix(keyPrefix, 's3 key prefix');
    const Bucket = this.bucket;
    const removed: string[] = [];
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    try {
      for (;;) {
        const page = await this.client.send(new (s3Sdk().ListMultipartUploadsCommand)({ Bucket, Prefix: keyPrefix, KeyMarker, UploadIdMarker }));
        for (const u of page.Uploads ?? []) {
          if (!u.Key || !u.UploadId) continue;
          if (opts.startedBefore !== undefined && (u.Initiated?.getTime() ?? 0) >= opts.startedBefore) continue;
          // Gone already (aborted by someone else meanwhile) is what was wanted.
          const gone = await this.client.send(new (s3Sdk().AbortMultipartUploadCommand)({ Bucket, Key: u.Key, UploadId: u.UploadId })).then(
            () => false,
            (err: unknown) => {
              if (isNotFound(err)) return true;
              throw err;
            },
          );
          if (!gone) removed.push(`${Bucket}/${u.Key} (upload ${u.UploadId})`);
        }
        if (!page.IsTruncated || (!page.NextKeyMarker && !page.NextUploadIdMarker)) return removed;
        KeyMarker = page.NextKeyMarker;
        UploadIdMarker = page.NextUploadIdMarker;
      }
    } catch (err) {
      throw this.failure('removing abandoned multipart uploads under', `${Bucket}/${keyPrefix}`, err);
    }
  }

  private failure(op: string, location: string, err: unknown): Error {
    if (isCofferError(err)) return err;
    if (isNotFound(err)) return objectMissing(`s3 object ${location} does not exist`);
    return storageFailed(`s3: ${op} ${location} failed: ${describeSdkError(err)}`, err);
  }
}
