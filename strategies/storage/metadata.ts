// User metadata travels as HTTP headers (Swift X-Object-Meta-*, S3
// x-amz-meta-*) and in a JSON sidecar (local). Only what survives all three
// unchanged is accepted: S3 lower-cases names and Swift title-cases them, and
// header values cannot carry line breaks (header injection) or keep leading
// and trailing spaces. The size limits are the smaller of Swift's
// (name 128, value 256, 90 items, 4 KiB total) and S3's (2 KiB total).
import { badLocation } from './errors.js';

const NAME = /^[a-z0-9][a-z0-9-]{0,127}$/;
// Non-empty: Swift treats an empty X-Object-Meta-* value as "remove".
const VALUE = /^[\x21-\x7e](?:[\x20-\x7e]{0,254}[\x21-\x7e])?$/;
const MAX_ITEMS = 90;
const MAX_TOTAL_BYTES = 2048;

export type Metadata = Readonly<Record<string, string>>;

/** Returns a frozen copy of `metadata`, or throws naming the offending entry. */
export function checkMetadata(metadata: Metadata): Metadata {
  const entries = Object.entries(metadata ?? {});
  if (entries.length > MAX_ITEMS) throw badLocation(`metadata has ${entries.length} entries; at most ${MAX_ITEMS} are allowed`);
  let total = 0;
  for (const [name, value] of entries) {
    if (!NAME.test(name)) {
      throw badLocation(`metadata name ${JSON.stringify(name)} must be lower-case letters, digits and "-" (at most 128)`);
    }
    if (typeof value !== 'string' || !VALUE.test(value)) {
      throw badLocation(
        `metadata ${name} value ${JSON.stringify(value)} must be printable ASCII without line breaks or ` +
          'leading/trailing spaces (at most 256 characters)',
      );
    }
    total += name.length + value.length;
  }
  if (total > MAX_TOTAL_BYTES) throw badLocation(`metadata is ${total} bytes; at most ${MAX_TOTAL_BYTES} are allowed`);
  return Object.freeze(Object.fromEntries(entries));
}

/** Collects `<prefix><name>` headers back into metadata (names lower-cased). */
export function metadataFromHeaders(headers: Iterable<[string, string]>, prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (lower.startsWith(prefix)) out[lower.slice(prefix.length)] = value;
  }
  return out;
}
