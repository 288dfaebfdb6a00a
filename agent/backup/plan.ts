// A backup request checked and completed before any tool starts: its id,
// strategy, compression, and for an increment a parent that still exists;
// and the metadata the backup will record.
import { randomUUID } from 'node:crypto';
import { parseCompression, type CompressionName } from '../../strategies/backup/compression.js';
import { BackupType, type BackupArtifact, type BackupMetadata } from '../../proto/gen/coffer/agent/v1/backup.js';
import type { StorageLocation } from '../../proto/gen/coffer/agent/v1/common.js';
import { AgentError, invalid } from '../errors.js';
import type { BackupCapability, DatastoreManager } from '../managers/manager.js';
import type { StoreCache } from './store-cache.js';

export interface CreateBackupInput {
  backupId: string;
  type: BackupType;
  strategy: string;
  parent?: BackupArtifact;
  storage?: StorageLocation;
  compression: string;
}

export interface BackupPlan {
  readonly cap: BackupCapability;
  readonly backupId: string;
  readonly strategy: string;
  readonly compression: CompressionName;
  readonly incremental: boolean;
  readonly parent?: BackupMetadata;
}

const BACKUP_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export async function planBackup(cap: BackupCapability, manager: DatastoreManager, stores: StoreCache, input: CreateBackupInput): Promise<BackupPlan> {
  const backupId = input.backupId || randomUUID();
  if (!BACKUP_ID.test(backupId)) throw invalid(`backup_id "${backupId.slice(0, 80)}" may hold only letters, digits, "_" and "-" (at most 64)`);
  const strategy = input.strategy || cap.defaultStrategy;
  if (!cap.strategies.includes(strategy)) {
    throw invalid(`backup strategy "${strategy}" is not available for ${manager.name}; choose one of ${cap.strategies.join(', ')}`);
  }
  const compression: CompressionName = parseCompression(input.compression || undefined);
  const incremental = input.type === BackupType.BACKUP_TYPE_INCREMENTAL;
  let parent: BackupMetadata | undefined;
  if (incremental) {
    const p = input.parent;
    if (!p?.metadata || !p.location?.location) throw invalid('an incremental backup needs its parent artifact (location and metadata)');
    parent = p.metadata;
    if (parent.strategy !== strategy) throw invalid(`the parent ${parent.backupId} was taken with ${parent.strategy}, not ${strategy}`);
    // The parent must still exist: an increment of a lost parent cannot be restored.
    await stores.get(p.location.storage).stat(p.location.location).catch((err: unknown) => {
      throw new AgentError('AGENT_ERR_NOT_FOUND', `the parent backup ${parent!.backupId} is missing from storage (${p.location!.location}): ${(err as Error).message}`);
    });
  }
  return { cap, backupId, strategy, compression, incremental, parent };
}

/** The metadata before the tool ran; the tool and the pipeline add their part. */
export function initialMetadata(p: BackupPlan, manager: DatastoreManager, input: CreateBackupInput): BackupMetadata {
  return {
    backupId: p.backupId,
    type: p.incremental ? BackupType.BACKUP_TYPE_INCREMENTAL : BackupType.BACKUP_TYPE_FULL,
    parentId: p.parent?.backupId ?? '',
    strategy: p.strategy,
    datastore: manager.name,
    datastoreVersion: manager.version,
    compression: p.compression,
    encryption: undefined,
    fromLsn: '',
    toLsn: '',
    gtidPosition: '',
    startLsn: '',
    stopLsn: '',
    startWal: '',
    stopWal: '',
    rawBytes: 0,
    storedBytes: 0,
    checksum: '',
    createdAtMs: Date.now(),
    extra: p.parent && input.parent?.location ? { 'parent-storage': input.parent.location.storage, 'parent-location': input.parent.location.location } : {},
  };
}
