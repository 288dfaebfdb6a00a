// Storage failures as errors of a known kind, so each side's error table maps
// them to one status each (on the agent: UNAVAILABLE for a failing store,
// INVALID_ARGUMENT for a bad key, DATA_LOSS for a checksum mismatch) without
// parsing messages.
// Messages name the store, the operation and the object; they never carry
// credentials (auth keys, tokens, secret keys): callers build them only from
// method, path, status and the server's error text.
import { CofferError } from '../../lib/coded-error.js';

export const storageFailed = (message: string, cause?: unknown): CofferError =>
  new CofferError('STORAGE', message, cause === undefined ? undefined : { cause });

export const badLocation = (message: string): CofferError => new CofferError('INVALID_ARGUMENT', message);

export const objectMissing = (message: string): CofferError => new CofferError('NOT_FOUND', message);

export const integrityFailed = (message: string): CofferError => new CofferError('INTEGRITY', message);

export const cancelled = (message: string): CofferError => new CofferError('CANCELLED', message);

export { isCofferError } from '../../lib/coded-error.js';

/** The message of anything thrown, for composing "while X: <why>" messages. */
export function reason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // fetch says only "fetch failed"; the socket error is in its cause.
  const cause = !(err instanceof CofferError) && err.cause instanceof Error ? ` (${err.cause.message})` : '';
  return err.message + cause;
}
