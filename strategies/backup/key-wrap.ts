// Per-backup data keys and their wrapping. Every backup is encrypted with its
// own random 256-bit data key; only the data key wrapped by the wrapping key
// (which the control plane holds and hands the agent) is ever stored. Losing
// one data key exposes one backup; rotating the wrapping key means
// re-wrapping 40-byte blobs, not re-encrypting backups.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { CofferError } from '../../lib/coded-error.js';

export const KEY_BYTES = 32;

/**
 * AES key wrap (RFC 3394) with a 256-bit key encryption key. Deterministic
 * and integrity-checked: a wrong wrapping key cannot unwrap silently.
 */
export const KEY_WRAP_ALGORITHM = 'id-aes256-wrap';
/** RFC 3394's default initial value; its check is what detects a wrong key. */
const RFC3394_IV = Buffer.from('A6A6A6A6A6A6A6A6', 'hex');
/** Wrapping a 32-byte key yields 40 bytes (RFC 3394 adds one 64-bit block). */
export const WRAPPED_KEY_BYTES = 40;

/** Bytes of the fingerprint kept as the key id (16 hex characters). */
export const KEY_ID_BYTES = 8;
// Domain separation: the key id is a hash of the key, so it must never equal
// any other hash of the same key that some other component might publish.
const KEY_ID_CONTEXT = 'coffer backup wrapping key id v1\0';

export interface DataKey {
  /** The data key in clear: encrypts frames; never stored or logged. */
  readonly key: Buffer;
  /** The data key wrapped with the wrapping key; stored in the object header and metadata. */
  readonly wrappedKey: Buffer;
  /** Fingerprint of the wrapping key, hex. */
  readonly keyId: string;
}

export function assertWrappingKey(wrappingKey: Buffer): void {
  if (!Buffer.isBuffer(wrappingKey) || wrappingKey.length !== KEY_BYTES) {
    throw new CofferError(
      'INVALID_ARGUMENT',
      `the backup wrapping key must be ${KEY_BYTES} bytes (got ${Buffer.isBuffer(wrappingKey) ? wrappingKey.length : typeof wrappingKey})`,
    );
  }
}

/** The key id: a short sha256 fingerprint of the wrapping key, hex. */
export function keyIdOf(wrappingKey: Buffer): string {
  assertWrappingKey(wrappingKey);
  return createHash('sha256').update(KEY_ID_CONTEXT).update(wrappingKey).digest().subarray(0, KEY_ID_BYTES).toString('hex');
}

/** A fresh random data key for one backup, with its wrapped form. */
export function createDataKey(wrappingKey: Buffer): DataKey {
  const keyId = keyIdOf(wrappingKey);
  const key = randomBytes(KEY_BYTES);
  const c = createCipheriv(KEY_WRAP_ALGORITHM, wrappingKey, RFC3394_IV);
  const wrappedKey = Buffer.concat([c.update(key), c.final()]);
  return { key, wrappedKey, keyId };
}

/**
 * Refuses a wrapping key whose fingerprint is not the backup's key id, so
 * that a restore with the wrong key fails with a message naming both ids,
 * before any data is read.
 */
export function assertKeyMatches(wrappingKey: Buffer, keyId: string): void {
  const actual = keyIdOf(wrappingKey);
  if (actual !== keyId) {
    throw new CofferError(
      'INVALID_ARGUMENT',
      `the wrapping key (key id ${actual}) does not match key id ${keyId} that this backup was encrypted for`,
    );
  }
}

/** Unwraps a data key after checking the key id; fails if the wrapped key was altered. */
export function unwrapDataKey(wrappedKey: Buffer, wrappingKey: Buffer, keyId: string): Buffer {
  assertKeyMatches(wrappingKey, keyId);
  try {
    const d = createDecipheriv(KEY_WRAP_ALGORITHM, wrappingKey, RFC3394_IV);
    const key = Buffer.concat([d.update(wrappedKey), d.final()]);
    if (key.length !== KEY_BYTES) throw new Error(`unwrapped ${key.length} bytes`);
    return key;
  } catch (err) {
    // The key id matched, so the wrapped key itself is damaged.
    throw new CofferError('INTEGRITY', `the wrapped data key (key id ${keyId}) failed its integrity check`, {
      cause: err,
    });
  }
}

/**
 * One backup's data key wrapped again, for another wrapping key: the
 * control's way of letting an instance restore a backup whose wrapping key
 * it must never hold (docs/backup-format.md "Keys"). The clear data key
 * lives only inside this call.
 */
export function rewrapDataKey(wrappedKey: Buffer, from: Buffer, fromKeyId: string, to: Buffer): { wrappedKey: Buffer; keyId: string } {
  const key = unwrapDataKey(wrappedKey, from, fromKeyId);
  try {
    const c = createCipheriv(KEY_WRAP_ALGORITHM, to, RFC3394_IV);
    return { wrappedKey: Buffer.concat([c.update(key), c.final()]), keyId: keyIdOf(to) };
  } finally {
    key.fill(0);
  }
}
