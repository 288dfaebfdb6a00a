// Builds the S3 client the S3 store uses. Kept apart from the store so that
// tests and deployments can hand the store a client of their own.
import type { S3Client } from '@aws-sdk/client-s3';
import { s3Sdk } from './s3-sdk.js';
import { s3RetryStrategy } from './s3-retry.js';
import { checkRetryPolicy, DEFAULT_RETRY } from './retry.js';

export interface S3ConnectionOptions {
  /** Omit for AWS; e.g. http://127.0.0.1:27180 for Swift's s3api, Ceph RGW or MinIO. */
  readonly endpoint?: string;
  readonly region: string;
  /** bucket in the path (http://host/bucket/key): needed by most non-AWS servers. */
  readonly forcePathStyle?: boolean;
  /** Omit to use the SDK's default chain (environment, instance profile). */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
  /**
   * Attempts per request (each part on its own), first included; what is
   * retried is lib/retryable.ts's answer (5xx, 408, 429, throttling, no
   * answer), with backoff (s3-retry.ts). Default 4.
   */
  readonly maxAttempts?: number;
}

export function createS3Client(opts: S3ConnectionOptions): S3Client {
  if (typeof opts !== 'object' || opts === null) throw new TypeError('s3 needs "connection": {"region": ..., "endpoint": ..., "credentials": ...}');
  if (!opts.region) throw new TypeError('s3 needs a region');
  if (opts.endpoint !== undefined && !/^https?:\/\//.test(opts.endpoint)) throw new TypeError('s3 endpoint must start with http:// or https://');
  const maxAttempts = opts.maxAttempts ?? 4;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 20) throw new TypeError(`s3 maxAttempts must be 1 to 20, got ${maxAttempts}`);
  const { S3Client: Client } = s3Sdk();
  return new Client({
    region: opts.region,
    endpoint: opts.endpoint,
    forcePathStyle: opts.forcePathStyle ?? false,
    credentials: opts.credentials ? { ...opts.credentials } : undefined,
    maxAttempts,
    retryStrategy: s3RetryStrategy(checkRetryPolicy({ ...DEFAULT_RETRY, attempts: maxAttempts })),
    // SDK v3 otherwise adds CRC checksums to every upload and sends streamed
    // bodies as aws-chunked, which Swift's s3api (and other S3 servers)
    // answer with 501. We send Content-MD5 on parts ourselves instead.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}
