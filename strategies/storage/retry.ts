// Bounded retries with exponential backoff and jitter, for requests that are
// safe to repeat (a segment PUT of the same bytes, a DELETE, a HEAD).
import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryPolicy {
  /** Total attempts, first included (1 = no retry). */
  readonly attempts: number;
  /** Delay before the second attempt; doubles each time, up to maxDelayMs. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = Object.freeze({ attempts: 4, baseDelayMs: 250, maxDelayMs: 4000 });

export function checkRetryPolicy(p: RetryPolicy): RetryPolicy {
  if (!Number.isInteger(p.attempts) || p.attempts < 1 || p.attempts > 20) {
    throw new TypeError(`retry attempts must be an integer from 1 to 20, got ${p.attempts}`);
  }
  if (!(p.baseDelayMs >= 0) || !(p.maxDelayMs >= p.baseDelayMs)) {
    throw new TypeError('retry delays must satisfy 0 <= baseDelayMs <= maxDelayMs');
  }
  return Object.freeze({ ...p });
}

/** Thrown by an attempt to ask for another try; `failure` is what to report if none is left. */
export class Retryable extends Error {
  constructor(readonly failure: Error) {
    super(failure.message, { cause: failure });
    this.name = 'Retryable';
  }
}

/**
 * Runs `attempt` until it returns or throws something other than Retryable,
 * or the attempts run out; then the last failure is thrown, its message
 * saying how many attempts were made. Waiting stops at once when `signal`
 * aborts.
 */
export async function withRetries<T>(
  policy: RetryPolicy,
  signal: AbortSignal | undefined,
  attempt: (n: number) => Promise<T>,
  onRetry?: (failure: Error, attempt: number, delayMs: number) => void,
): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (!(err instanceof Retryable)) throw err;
      if (n >= policy.attempts || signal?.aborted) {
        if (n > 1) err.failure.message += ` (after ${n} attempts)`;
        throw err.failure;
      }
      const delay = backoffDelay(policy, n);
      onRetry?.(err.failure, n, delay);
      await sleep(delay, undefined, { signal });
    }
  }
}

/** The wait after failed attempt `n` (1-based): doubling from baseDelayMs up to maxDelayMs, with jitter. */
export function backoffDelay(policy: RetryPolicy, n: number): number {
  // Jitter spreads the retries of parallel uploads apart.
  return Math.round(Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (n - 1)) * (0.8 + Math.random() * 0.4));
}
