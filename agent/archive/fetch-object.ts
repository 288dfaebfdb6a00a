// An archived object read back for a replay: decrypted and decompressed
// into memory in one pass (a WAL segment is 16 MiB; a binlog is bounded by
// max_binlog_size), and handed out only once every frame, the final marker
// and the sha256 the catalogue records have been checked: nothing reaches
// the datastore before the whole object passed. A tampered or truncated
// object is an INTEGRITY error naming it: the datastore is never given a
// byte of it.
import type { Readable } from 'node:stream';
import { CofferError } from '../../lib/coded-error.js';
import type { ProcessRunner } from '../../lib/process-runner.js';
import type { Logger } from '../../lib/logger.js';
import { openRestore } from '../../strategies/backup/pipeline.js';
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
  let bytes: Buffer;
  try {
    const object = await deps.store.open(location, { signal });
    // No expectHeader: this one pass hashes the object and checks its sha256.
    const opened = openRestore(object.stream, { wrappingKey: deps.wrappingKey, expectedSha256: o.sha256, compression: parseCompression(o.compression), signal }, { runner: deps.runner, log: deps.log });
    [bytes] = await Promise.all([collect(opened.output), opened.result]);
  } catch (err) {
    if ((err as CofferError).kind === 'INTEGRITY') {
      throw new CofferError('INTEGRITY', `archived ${o.kind === 'wal' ? 'WAL segment' : 'binlog'} ${o.name} (${deps.store.name}:${location}) failed its integrity check, so the replay stopped before it: ${(err as Error).message}`, { cause: err });
    }
    throw err;
  }
  if (bytes.length !== o.rawBytes) {
    throw new CofferError('INTEGRITY', `archived ${o.name} restored to ${bytes.length} bytes; the catalogue records ${o.rawBytes}`);
  }
  return bytes;
}
