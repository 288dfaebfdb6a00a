// What the backup, verify and restore pipelines share about their outcome:
// a cancel is reported as CANCELLED whatever stage noticed it, and the
// expected checksum is checked before any byte is read.
import { CofferError } from '../../lib/coded-error.js';

export function cancelledOr(err: unknown, signal: AbortSignal | undefined, what: string): unknown {
  if (signal?.aborted && !(err instanceof CofferError)) {
    return new CofferError('CANCELLED', `${what} was cancelled`, { cause: err });
  }
  return err;
}

export function assertSha256(hex: string): void {
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new CofferError('INVALID_ARGUMENT', 'the expected checksum must be a sha256 in hex (64 characters)');
  }
}
