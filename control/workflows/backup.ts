// The backup workflow: the agent streams the backup into storage and ends
// with its artifact; the record becomes COMPLETED (or FAILED with a fault).
// A failed backup does not break the instance: it goes back to ACTIVE, and
// what the backup left in storage is removed.
import { BackupArtifact, BackupType, type CreateBackupResponse } from '../../proto/gen/coffer/agent/v1/backup.js';
import { agentStream } from '../agent-client.js';
import { withAgent, type ControlContext } from '../context.js';
import { PermanentStepError, type Workflow } from '../tasks/workflow.js';
import { removeFailedBackupObjects } from '../service/backups.js';
import { BackupKeys } from '../backup-keys.js';

export interface BackupData {
  backupId: string;
  instanceId: string;
  kind: 'FULL' | 'INCREMENTAL';
  /** The parent's artifact JSON, for an incremental backup. */
  parentArtifact: string | null;
}

export function backupWorkflow(c: ControlContext): Workflow<BackupData> {
  const reactivate = (instanceId: string): void => {
    const row = c.instances.get(instanceId);
    if (row && row.status === 'BACKUP') c.instances.update(instanceId, { status: 'ACTIVE', task_id: null });
    c.events.emit('instance', instanceId);
  };
  return {
    kind: 'backup',
    deadlineMs: c.config.taskDeadlineMs,
    steps: [
      {
        name: 'backup',
        async run(ctx) {
          const row = c.instances.get(ctx.data.instanceId);
          if (!row) throw new PermanentStepError('the instance was deleted');
          // Resumed after the backup was recorded: it is not taken again.
          if (c.backups.get(ctx.data.backupId)?.status === 'COMPLETED') return;
          c.backups.update(ctx.data.backupId, { status: 'BUILDING' });
          let artifact: CreateBackupResponse['artifact'];
          await withAgent(c, row, async (a) => {
            const stream = a.backup.createBackup({
              backupId: ctx.data.backupId,
              type: ctx.data.kind === 'FULL' ? BackupType.BACKUP_TYPE_FULL : BackupType.BACKUP_TYPE_INCREMENTAL,
              strategy: '',
              parent: ctx.data.parentArtifact ? BackupArtifact.fromJSON(JSON.parse(ctx.data.parentArtifact)) : undefined,
              storage: undefined,
              compression: '',
            });
            try {
              await agentStream<CreateBackupResponse>(
                stream,
                (m) => {
                  if (m.progress) ctx.progress({ phase: m.progress.phase, message: m.progress.message, percent: m.progress.percent, bytesDone: m.progress.bytesDone, bytesTotal: m.progress.bytesTotal });
                  if (m.artifact) artifact = m.artifact;
                },
                ctx.signal,
              );
            } catch (err) {
              // The cause keeps the agent's status: whether to ask again is the engine's call.
              throw new Error(`the backup failed: ${(err as { details?: string }).details ?? String(err)}`, { cause: err });
            }
          });
          if (!artifact) throw new Error('the agent ended the backup without an artifact');
          const md = artifact.metadata;
          // Wrapped by the key this instance was given, or it is no backup of ours (backup-keys.ts).
          const keyProblem = new BackupKeys(c.config.dataDir).reportedKeyProblem(row, ctx.data.backupId, md?.encryption?.keyId);
          if (keyProblem) throw new PermanentStepError(keyProblem);
          c.backups.update(ctx.data.backupId, {
            status: 'COMPLETED',
            // Protobuf JSON: bytes (the wrapped key) survive as base64.
            artifact: JSON.stringify(BackupArtifact.toJSON(artifact)),
            size_bytes: md?.storedBytes ?? 0,
            checksum: md?.checksum ?? '',
            storage: artifact.location?.storage ?? '',
            location: artifact.location?.location ?? '',
            task_id: null,
          });
        },
      },
      {
        name: 'activate',
        commit(ctx) {
          reactivate(ctx.data.instanceId);
        },
      },
    ],
    onFailed: (_task, data, step, message) => {
      c.backups.update(data.backupId, { status: 'FAILED', fault_step: step, fault_message: message, task_id: null });
      reactivate(data.instanceId);
      // After the transaction onFailed runs in: the sweep talks to the stores.
      setImmediate(() => void removeFailedBackupObjects(c, data.backupId, data.instanceId));
    },
  };
}
