// Which failures are worth another attempt: the one list, used by the
// control's task engine (a failed step runs again or fails the task) and by
// its agent client. A retry helps only when the same call, made again later,
// can get another answer: a server that was away, busy, out of time or
// starting. A refusal (a bad request, a missing or damaged object, a state
// that will not change by itself) is the same answer every time, and each
// retry of a Prepare re-initialises the datadir and re-verifies the chain.
import { status as GrpcStatus } from '@grpc/grpc-js';
import { ERROR_CODE_METADATA_KEY } from './error-table.js';

/** By gRPC status, as the Temporal SDKs keep it. */
export const RETRYABLE_STATUS: Readonly<Record<GrpcStatus, boolean>> = {
  [GrpcStatus.OK]: false,
  // The server gave up on the call (it was stopping, its caller seemed gone):
  // when our own call is cancelled the engine stops before asking.
  [GrpcStatus.CANCELLED]: true,
  // A transport failure grpc-js could not name.
  [GrpcStatus.UNKNOWN]: true,
  [GrpcStatus.INVALID_ARGUMENT]: false,
  // The call's deadline (not the task's): the server was slow.
  [GrpcStatus.DEADLINE_EXCEEDED]: true,
  [GrpcStatus.NOT_FOUND]: false,
  [GrpcStatus.ALREADY_EXISTS]: false,
  [GrpcStatus.PERMISSION_DENIED]: false,
  [GrpcStatus.RESOURCE_EXHAUSTED]: true,
  [GrpcStatus.FAILED_PRECONDITION]: false,
  // Busy: another operation holds the lock; it ends.
  [GrpcStatus.ABORTED]: true,
  [GrpcStatus.OUT_OF_RANGE]: false,
  [GrpcStatus.UNIMPLEMENTED]: false,
  // A tool or the datastore failed (a port taken, a process killed), or the
  // connection broke mid-call.
  [GrpcStatus.INTERNAL]: true,
  // Not listening (yet), or the object store failed.
  [GrpcStatus.UNAVAILABLE]: true,
  // Stored data failed its integrity check: it stays damaged.
  [GrpcStatus.DATA_LOSS]: false,
  [GrpcStatus.UNAUTHENTICATED]: false,
};

/**
 * Coffer error codes (trailing metadata `coffer-error-code`) whose answer
 * differs from their status's: the agent's NOT_READY is FAILED_PRECONDITION
 * for callers, but the states it names (the datastore starting, loading its
 * dataset, not answering yet) pass by themselves. Its other
 * FAILED_PRECONDITION, ALREADY_PREPARED, does not.
 */
export const RETRYABLE_CODE: Readonly<Record<string, boolean>> = {
  AGENT_ERR_NOT_READY: true,
  AGENT_ERR_ALREADY_PREPARED: false,
};

/** A gRPC status error as grpc-js rejects with it. */
export interface StatusError {
  readonly code: GrpcStatus;
  readonly details?: string;
  readonly metadata?: { get(key: string): unknown[] };
}

const isStatusError = (e: unknown): e is StatusError =>
  typeof e === 'object' && e !== null && typeof (e as StatusError).code === 'number' && (e as StatusError).code in RETRYABLE_STATUS && ('details' in e || 'metadata' in e);

/** The first gRPC status error in `err` or its causes. */
export function statusErrorOf(err: unknown): StatusError | undefined {
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 10; e = (e as { cause?: unknown }).cause, depth++) {
    if (isStatusError(e)) return e;
  }
  return undefined;
}

/** The Coffer error code a status error carries, or ''. */
export function errorCodeOf(e: StatusError): string {
  const v = e.metadata?.get(ERROR_CODE_METADATA_KEY)[0];
  return typeof v === 'string' ? v : '';
}

/**
 * Whether asking again can succeed. Walks `err` and its causes: the first
 * that says so itself (a `retryable` property, as PermanentStepError has) or
 * is a gRPC answer decides. A failure with neither (the compute driver, the
 * file system) is retried: attempts and the deadline bound it.
 */
export function isRetryable(err: unknown): boolean {
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 10; e = (e as { cause?: unknown }).cause, depth++) {
    const own = (e as { retryable?: unknown }).retryable;
    if (typeof own === 'boolean') return own;
    if (isStatusError(e)) {
      const code = errorCodeOf(e);
      return Object.hasOwn(RETRYABLE_CODE, code) ? RETRYABLE_CODE[code]! : RETRYABLE_STATUS[e.code];
    }
  }
  return true;
}

/**
 * The object stores' HTTP requests (Swift, S3), by status: a server error, a
 * timeout or throttling may pass; any other refusal (auth, a missing
 * container, a body the server rejected as corrupt) is the same next time.
 * `undefined` is a request that got no answer at all (connection refused or
 * reset, the body cut off midway): the server may be back, so it is retried.
 */
export function isRetryableHttpStatus(status: number | undefined): boolean {
  return status === undefined || status >= 500 || status === 408 || status === 429;
}

/**
 * S3 error codes that come with a 4xx status but pass by themselves: the
 * server timed out reading a slow body, or asked the client to slow down.
 */
export const RETRYABLE_S3_ERROR_CODE: ReadonlySet<string> = new Set(['RequestTimeout', 'SlowDown', 'Throttling', 'ThrottlingException', 'RequestThrottled']);
