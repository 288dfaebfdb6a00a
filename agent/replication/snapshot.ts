// GetReplicaSnapshot: this source readies each new replica's access (its
// account and, for PostgreSQL, its slot: made before the backup starts so
// nothing the replica needs is discarded meanwhile), then takes a backup
// through the agent's one backup path (the same as CreateBackup: incremental
// on `parent` when one is given and the datastore can, stored where
// `storage` says or in the default storage). Each replica learns how to
// attach: its user and slot, and the position the snapshot ends at.
import { BackupType, type BackupArtifact } from '../../proto/gen/coffer/agent/v1/backup.js';
import type { GetReplicaSnapshotRequest, ReplicaSnapshot } from '../../proto/gen/coffer/agent/v1/replication.js';
import type { BackupProgress, CreateBackupInput } from '../backup/backups.js';
import type { ReplicationCapability } from '../managers/manager.js';
import { checkReplicaAccess } from './validate.js';

export interface SnapshotDeps {
  readonly capability: ReplicationCapability;
  /** The agent's backup core (Backups.create). */
  readonly createBackup: (input: CreateBackupInput, onProgress: (p: BackupProgress) => void, signal: AbortSignal) => Promise<BackupArtifact>;
  /** The datastore takes only full backups (an RDB): `parent` is ignored. */
  readonly fullOnly: boolean;
  /**
   * The strategy snapshots use. A parent of another strategy (a logical
   * dump, when the source's newest backup is one) cannot be incremented on:
   * the snapshot is then full.
   */
  readonly strategy: string;
}

export async function replicaSnapshot(
  deps: SnapshotDeps,
  req: GetReplicaSnapshotRequest,
  onProgress: (p: BackupProgress) => void,
  signal: AbortSignal,
): Promise<ReplicaSnapshot> {
  checkReplicaAccess(req.replicas);
  onProgress({ phase: 'replica-access', message: `readying access for ${req.replicas.length} replica(s)`, bytesDone: 0, bytesTotal: 0, bytesPerSecond: 0 });
  const sources = await deps.capability.addReplicaAccess(req.replicas);
  const incremental = !!req.parent && !deps.fullOnly && req.parent.metadata?.strategy === deps.strategy;
  const artifact = await deps.createBackup(
    {
      backupId: req.backupId,
      type: incremental ? BackupType.BACKUP_TYPE_INCREMENTAL : BackupType.BACKUP_TYPE_FULL,
      strategy: deps.strategy,
      parent: incremental ? req.parent : undefined,
      storage: req.storage,
      compression: '',
    },
    onProgress,
    signal,
  );
  const position = deps.capability.snapshotPosition(artifact.metadata!);
  return { artifact, sources: sources.map((s) => ({ ...s, host: '', port: 0, position })) };
}
