// The full metadata of a backup, stored beside its object: readable without
// the caller's records (Prepare from a location, the chain walk).
import type { ObjectStorage } from '../../strategies/storage/storage.js';
import type { BackupMetadata } from '../../proto/gen/coffer/agent/v1/backup.js';
import { decodeMetadata, encodeMetadata } from './metadata-codec.js';
import { metadataKey } from '../../strategies/storage/backup-objects.js';

export async function writeSidecar(store: ObjectStorage, key: string, meta: BackupMetadata): Promise<void> {
  const sink = store.save(metadataKey(key), { metadata: { 'backup-id': meta.backupId } });
  sink.stream.end(encodeMetadata(meta));
  await sink.done;
}

export async function readSidecar(store: ObjectStorage, key: string): Promise<BackupMetadata> {
  const obj = await store.open(metadataKey(key));
  const chunks: Buffer[] = [];
  for await (const c of obj.stream) chunks.push(c as Buffer);
  return decodeMetadata(Buffer.concat(chunks));
}
