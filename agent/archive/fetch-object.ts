// An archived object read back for a replay: verified whole (every frame,
// the final marker, the sha256 the catalogue records) before a single byte
// is decrypted for the datastore, then decrypted and decompressed into
// memory (a WAL segment is 16 MiB; a binlog is bounded by max_binlog_size).
// A tampered or truncated object is an INTEGRITY error naming it: the
// datastore is never given a byte of it.
import type { Readable } from 'node:stream';
import { CofferError } from '../../lib/coded-error.js';
import type { ProcessRunner } from '../../lib/process-runner.js';
import type { Logger } from '../../lib/logger.js';
import { openRestore, verifyObject } from '../../strategies/backup/pipeline.js';
import { parseCompression } from '../../strategies/backup/compression.js';
import type { ArchivedObject } from '../../strategies/archive/layout.js';
import type { ObjectStorage } from '../../strategies/storage/storage.js';

export interface FetchDeps {
  readonly store: ObjectStorage;
  readonly wrappingKey: Buffer;
  readonly runner: ProcessRunner;
  readonly log: Logger;
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function fetchArchived(o: ArchivedObject, deps: FetchDeps, signal: AbortSignal): Promise<Buffer> {
  const location = deps.store.locationOf(o.key);
  let header: Buffer;
  try {
    const v = await verifyObject((await deps.store.open(location, { signal })).stream, o.sha256, deps.wrappingKey, { signal });
    header = v.header;
  } catch (err) {
    if ((err as CofferError).kind === 'INTEGRITY') {
      throw new CofferError('INTEGRITY', `archived ${o.kind === 'wal' ? 'WAL segment' : 'binlog'} ${o.name} (${deps.store.name}:${location}) failed its integrity check, so the replay stopped before it: ${(err as Error).message}`, { cause: err });
    }
    throw err;
  }
  const object = await deps.store.open(location, { signal });
  const opened = openRestore(object.stream, { wrappingKey: deps.wrappingKey, expectedSha256: o.sha256, expectHeader: header, compression: parseCompression(o.compression), signal }, { runner: deps.runner, log: deps.log });
  const [bytes] = await Promise.all([collect(opened.output), opened.result]);
  if (bytes.length !== o.rawBytes) {
    throw new CofferError('INTEGRITY', `archived ${o.name} restored to ${bytes.length} bytes; the catalogue records ${o.rawBytes}`);
  }
  return bytes;
}

