// The S3 client's retry strategy: every request (each UploadPart on its own)
// is attempted up to `attempts` times, with the same backoff as the Swift
// store (retry.ts), retrying only what lib/retryable.ts says may pass. The
// SDK's own strategy would decide by its own lists instead.
import type { RetryErrorInfo, RetryStrategyV2, RetryToken } from '@smithy/types';
import { isRetryableHttpStatus, RETRYABLE_S3_ERROR_CODE } from '../../lib/retryable.js';
import { backoffDelay, type RetryPolicy } from './retry.js';

interface Token extends RetryToken {
  readonly count: number;
}

const token = (count: number, delay: number): Token => ({ count, getRetryCount: () => count, getRetryDelay: () => delay });

/** Whether an SDK failure may pass if the same request is sent again. */
export function isRetryableS3Failure(error: unknown): boolean {
  const e = error as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number }; $response?: { statusCode?: number } } | undefined;
  if (e?.name && RETRYABLE_S3_ERROR_CODE.has(e.name)) return true;
  if (e?.Code && RETRYABLE_S3_ERROR_CODE.has(e.Code)) return true;
  return isRetryableHttpStatus(e?.$metadata?.httpStatusCode ?? e?.$response?.statusCode);
}

export function s3RetryStrategy(policy: RetryPolicy): RetryStrategyV2 {
  return {
    acquireInitialRetryToken: async () => token(0, 0),
    async refreshRetryTokenForRetry(previous: RetryToken, info: RetryErrorInfo): Promise<RetryToken> {
      const count = (previous as Token).count + 1;
      // Throwing ends the retries; the SDK then throws the request's own error.
      if (count >= policy.attempts || !isRetryableS3Failure(info.error)) throw info.error ?? new Error('s3: no retry');
      return token(count, backoffDelay(policy, count));
    },
    recordSuccess: () => {},
  };
}
