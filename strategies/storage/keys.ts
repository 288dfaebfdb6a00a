// Object keys and locations are validated once, here, for every store: a key
// becomes a file path (local), a URL path (Swift) or an S3 key, and a key that
// means something different in one of them must be refused in all of them so
// that a backup can move between stores.
import { badLocation } from './errors.js';

/** Swift's default object-name limit (bytes); S3 allows 1024 too. */
const MAX_KEY_BYTES = 1024;

/**
 * Refuses keys that are absolute, climb out of their prefix ("..", "."),
 * hide files (segments starting with "."), have empty segments, backslashes
 * or control characters. Returns the key unchanged.
 */
export function checkKey(key: string, what = 'object key'): string {
  if (typeof key !== 'string' || key.length === 0) throw badLocation(`${what} is empty`);
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw badLocation(`${what} is longer than ${MAX_KEY_BYTES} bytes`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) throw badLocation(`${what} ${JSON.stringify(key)} contains a control character`);
  if (key.includes('\\')) throw badLocation(`${what} ${JSON.stringify(key)} contains a backslash`);
  if (key.startsWith('/')) throw badLocation(`${what} ${JSON.stringify(key)} is absolute; keys are relative to the store`);
  for (const segment of key.split('/')) {
    if (segment === '') throw badLocation(`${what} ${JSON.stringify(key)} has an empty path segment`);
    if (segment === '..' || segment === '.') {
      throw badLocation(`${what} ${JSON.stringify(key)} contains "${segment}", which would escape its prefix`);
    }
    if (segment.startsWith('.')) {
      throw badLocation(`${what} ${JSON.stringify(key)} has a segment starting with "." (reserved for the store's own files)`);
    }
  }
  return key;
}

/** Splits "container/object" or "bucket/key"; both halves are checked. */
export function splitLocation(location: string, store: string): { container: string; key: string } {
  const slash = typeof location === 'string' ? location.indexOf('/') : -1;
  if (slash <= 0) throw badLocation(`${store} location ${JSON.stringify(location)} is not "<container>/<object>"`);
  const container = location.slice(0, slash);
  checkKey(container, `${store} container`);
  return { container, key: checkKey(location.slice(slash + 1), `${store} object name`) };
}

/**
 * A key prefix: a key, or a key ending in "/" (everything below a folder).
 * Returns the prefix unchanged.
 */
export function checkPrefix(prefix: string, what = 'key prefix'): string {
  const folder = typeof prefix === 'string' && prefix.endsWith('/');
  checkKey(folder ? prefix.slice(0, -1) : prefix, what);
  return prefix;
}
