// The kinds of failure Coffer knows, shared by every layer. Code that does not
// belong to one side (strategies/, lib/) throws a CofferError carrying a kind;
// the agent and the control each map a kind to a code of their own error
// table (agent/errors.ts, control/errors.ts), so a failing store or a
// tampered backup reaches the caller with one status, without lower layers
// importing either side.

export type ErrorKind =
  /** A request field or an input is malformed or not allowed. */
  | 'INVALID_ARGUMENT'
  /** The named thing (object, backup, database, user) does not exist. */
  | 'NOT_FOUND'
  /** The named thing exists already. */
  | 'ALREADY_EXISTS'
  /** The target is not in a state that allows this. */
  | 'NOT_READY'
  /** Another operation is running. */
  | 'BUSY'
  /** The capability does not exist here. */
  | 'UNIMPLEMENTED'
  /** The operation was cancelled (the caller went away, an operator stopped it). */
  | 'CANCELLED'
  /** Something did not answer in time. */
  | 'TIMEOUT'
  /** The datastore or one of its tools failed. */
  | 'DATASTORE'
  /** The object storage failed or did not answer. */
  | 'STORAGE'
  /** Stored data failed its integrity check. */
  | 'INTEGRITY'
  /** The caller did not say who it is. */
  | 'UNAUTHENTICATED'
  /** The caller may not do this. */
  | 'PERMISSION_DENIED'
  /** A peer (an agent) did not answer. */
  | 'UNAVAILABLE'
  /** An unexpected failure. */
  | 'INTERNAL';

/**
 * A failure of a known kind. Its message is meant for the caller: it names
 * what failed and never carries a secret.
 */
export class CofferError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CofferError';
  }
}

export const isCofferError = (err: unknown): err is CofferError => err instanceof CofferError;
