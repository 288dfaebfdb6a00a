// One closed log file into the archive: read from disk, compressed,
// encrypted under its own data key and uploaded by the backup pipeline
// (the same framing, compression and stores as backups), under the name
// strategies/archive/layout.ts gives it, with its range as store metadata.
// Resolves only once the store committed the object: this is the
// uploader's StoreItem (agent/archive/uploader.ts).
//
// A test stand-in for the archive core's own store step
// (agent/archive/archiver.ts on the pitr-pg branch), until that is merged:
// the same pipeline calls, so the objects are what the agent stores.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { runBackup, type PipelineDeps } from '../../../../../strategies/backup/pipeline.js';
import type { CompressionName } from '../../../../../strategies/backup/compression.js';
import { archivedObjectKey, objectMetadata, type ArchiveKind, type ArchivedObject } from '../../../../../strategies/archive/layout.js';
import type { ObjectStorage } from '../../../../../strategies/storage/storage.js';
import type { ArchiveItem } from '../../../../../agent/archive/uploader.js';

/** The range fields of an ArchivedObject, read from the closed file. */
export type LogFileRange = Pick<ArchivedObject, 'startPosition' | 'endPosition' | 'timeline' | 'firstCommitMs' | 'lastCommitMs'>;

export interface StoreLogFileOptions {
  readonly store: ObjectStorage;
  readonly prefix: string;
  readonly kind: ArchiveKind;
  readonly wrappingKey: () => Buffer;
  readonly compression: CompressionName;
  readonly deps: PipelineDeps;
  readonly describe: (item: ArchiveItem, signal: AbortSignal) => Promise<LogFileRange>;
}

export function logFileStorer(o: StoreLogFileOptions): (item: ArchiveItem, signal: AbortSignal) => Promise<ArchivedObject> {
  return async (item, signal) => {
    const range = await o.describe(item, signal);
    const key = archivedObjectKey(o.prefix, o.kind, item.name);
    const { size } = await stat(item.path);
    const source = createReadStream(item.path);
    const base = { kind: o.kind, name: item.name, ...range, closedAtMs: item.closedAtMs, compression: o.compression };
    const sink = o.store.save(key, { metadata: { ...objectMetadata({ ...base, rawBytes: size }) }, signal });
    const sinkSha256 = sink.done.then((s) => s.sha256);
    sinkSha256.catch(() => undefined);
    try {
      const r = await runBackup({ source, sink: sink.stream, sinkSha256, wrappingKey: o.wrappingKey(), compression: o.compression, signal }, o.deps);
      await sink.done;
      return {
        ...base,
        key,
        rawBytes: r.rawBytes,
        storedBytes: r.storedBytes,
        sha256: r.sha256,
        archivedAtMs: Date.now(),
        encryption: { algorithm: r.encryption.algorithm, keyId: r.encryption.keyId, frameSize: r.encryption.frameSize },
      };
    } catch (err) {
      source.destroy();
      await sink.done.catch(() => undefined);
      throw err;
    }
  };
}
