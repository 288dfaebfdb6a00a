// A backup's metadata travels twice: as object metadata headers (what is
// known when the upload starts: the S3 API sends headers first) and, in
// full, as a small JSON object stored beside the backup after it committed,
// so that nothing about a backup is lost even when headers are (Trove lost
// them on large Swift objects). Where the sidecar lies is named in
// strategies/storage/backup-objects.ts, for the control too.
import { BackupMetadata, BackupType } from '../../proto/gen/coffer/agent/v1/backup.js';

/** Headers known at the start: identity and lineage. */
export function startHeaders(m: BackupMetadata): Record<string, string> {
  const h: Record<string, string> = {
    'backup-id': m.backupId,
    type: m.type === BackupType.BACKUP_TYPE_INCREMENTAL ? 'incremental' : 'full',
    strategy: m.strategy,
    datastore: m.datastore,
    'datastore-version': m.datastoreVersion,
    compression: m.compression,
  };
  if (m.parentId) h['parent-id'] = m.parentId;
  return h;
}

export function encodeMetadata(m: BackupMetadata): Buffer {
  return Buffer.from(JSON.stringify(BackupMetadata.toJSON(m), null, 2));
}

export function decodeMetadata(bytes: Buffer): BackupMetadata {
  return BackupMetadata.fromJSON(JSON.parse(bytes.toString('utf8')));
}
