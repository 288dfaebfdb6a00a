// The create-replicas workflow: one task for a set of new replicas of one
// source (1 to 3). The source's agent readies each replica's access and
// takes one snapshot backup (incremental on the source's newest completed
// backup where the datastore can); every replica is then built in parallel
// with the create workflow's own steps (control/workflows/create.ts), its
// Prepare restoring the snapshot with `replica_of` set, so it starts as a
// replica and never writes a transaction of its own. The snapshot is
// recorded as a backup of the source (its chain resolves like any other)
// and removed at the end; the user's backup it was incremental on is kept.
// Where the datastore's replicas clone their source (traits' `snapshot`:
// PostgreSQL, MariaDB), the source only gives the access (AddReplicaAccess), no
// backup is taken or recorded, and each Prepare gets `replica_of` and no
// restore: the replica's agent copies the source itself, in one pass
// (MariaDB: through the source agent's one-shot endpoint, opened with a
// fresh ticket right before each replica's Prepare).
//
// Resuming after a kill -9: the snapshot is not taken again once recorded
// (its backup row COMPLETED and the replicas' access saved in one
// transaction); a replica whose build finished is skipped, and Prepare
// itself skips an agent that is prepared already.
import { BackupArtifact } from '../../../proto/gen/coffer/agent/v1/backup.js';
import type { GetReplicaSnapshotResponse } from '../../../proto/gen/coffer/agent/v1/replication.js';
import { agentStream } from '../../agent-client.js';
import { withAgent, type ControlContext } from '../../context.js';
import { deleteBackup, removeFailedBackupObjects } from '../../service/backups.js';
import { PermanentStepError, type StepContext, type Workflow } from '../../tasks/workflow.js';
import { failInstance } from '../common.js';
import { BackupKeys } from '../../backup-keys.js';
import { buildSteps, scrubCreateData, type CreateData } from '../create.js';
import { addAccess, liveRow, openCloneEndpoint } from './agent-steps.js';
import { replicaSecret, traitsOf } from './datastores.js';
import { accessOf, sourceInfo, type AccessInfo } from './source-info.js';

export interface CreateReplicasData {
  sourceId: string;
  /** The snapshot's backup record (inserted with the task); absent when the replicas clone the source (no backup). */
  snapshotBackupId?: string;
  /** The backup the snapshot is incremental on: undefined until the snapshot step decided, null for a full one. */
  parentBackupId?: string | null;
  /** Each replica's access on the source (same order as `builds`), set with the snapshot: no secret. */
  access?: AccessInfo[];
  /** One create's data per replica. */
  builds: CreateData[];
  /** Replicas whose build (Prepare included) has finished. */
  built: string[];
}

type Ctx = StepContext<CreateReplicasData>;

export function createReplicasWorkflow(c: ControlContext): Workflow<CreateReplicasData> {
  const build = buildSteps(c);

  /** Replicas that clone the source: their access is all it gives (idempotent, so asked again after a restart). */
  const accessOnly = async (ctx: Ctx): Promise<void> => {
    const d = ctx.data;
    if (d.access) return;
    d.access = await addAccess(c, liveRow(c, d.sourceId), d.builds.map((b) => b.instanceId));
    ctx.save();
  };

  const snapshot = async (ctx: Ctx): Promise<void> => {
    const d = ctx.data;
    if (!d.snapshotBackupId) return accessOnly(ctx);
    const snap = c.backups.get(d.snapshotBackupId);
    if (!snap) throw new PermanentStepError(`the snapshot backup ${d.snapshotBackupId} was deleted`);
    if (snap.status === 'COMPLETED' && d.access) return;
    const source = liveRow(c, d.sourceId);
    if (d.parentBackupId === undefined) {
      const newest = traitsOf(c, source).incrementalSnapshot ? c.backups.latestCompleted(source.id) : undefined;
      d.parentBackupId = newest && newest.id !== snap.id && newest.artifact ? newest.id : null;
      ctx.save();
    }
    const parent = d.parentBackupId ? c.backups.get(d.parentBackupId) : undefined;
    if (d.parentBackupId && !parent?.artifact) throw new PermanentStepError(`backup ${d.parentBackupId}, the snapshot's parent, was deleted while the snapshot was taken`);
    c.backups.update(snap.id, { status: 'BUILDING', kind: parent ? 'INCREMENTAL' : 'FULL', parent_id: parent?.id ?? null });
    const ids = d.builds.map((b) => b.instanceId);
    let result: GetReplicaSnapshotResponse['snapshot'];
    await withAgent(c, source, async (a) => {
      try {
        await agentStream<GetReplicaSnapshotResponse>(
          a.replication.getReplicaSnapshot({
            replicas: ids.map((id) => ({ replicaId: id, password: replicaSecret(c, source, id) })),
            backupId: snap.id,
            parent: parent ? BackupArtifact.fromJSON(JSON.parse(parent.artifact!)) : undefined,
            storage: undefined,
          }),
          (m) => {
            if (m.progress) ctx.progress({ phase: m.progress.phase, message: m.progress.message, percent: m.progress.percent, bytesDone: m.progress.bytesDone, bytesTotal: m.progress.bytesTotal });
            if (m.snapshot) result = m.snapshot;
          },
          ctx.signal,
        );
      } catch (err) {
        throw new Error(`the replica snapshot failed: ${(err as { details?: string }).details ?? String(err)}`, { cause: err });
      }
    });
    const artifact = result?.artifact;
    if (!artifact) throw new Error('the source\'s agent ended the snapshot without a backup');
    const md = artifact.metadata;
    // Wrapped by the key the source was given, or it is no backup of ours (backup-keys.ts).
    const keyProblem = new BackupKeys(c.config.dataDir).reportedKeyProblem(source, snap.id, md?.encryption?.keyId);
    if (keyProblem) throw new PermanentStepError(keyProblem);
    // The backup and what the replicas need of it are recorded together: a
    // restart either takes the snapshot again or finds both.
    c.db.transaction(() => {
      c.backups.update(snap.id, {
        status: 'COMPLETED',
        artifact: JSON.stringify(BackupArtifact.toJSON(artifact)),
        size_bytes: md?.storedBytes ?? 0,
        checksum: md?.checksum ?? '',
        storage: artifact.location?.storage ?? '',
        location: artifact.location?.location ?? '',
        task_id: null,
      });
      d.access = ids.map((id, i) => accessOf(id, result!.sources[i]));
      ctx.save();
    })();
  };

  const buildOne = async (ctx: Ctx, i: number): Promise<void> => {
    const d = ctx.data;
    const b = d.builds[i]!;
    if (d.built.includes(b.instanceId)) return;
    if (!d.access) throw new PermanentStepError('the replicas\' access on the source is not recorded');
    if (d.snapshotBackupId) {
      const snap = c.backups.get(d.snapshotBackupId);
      if (!snap?.artifact) throw new PermanentStepError('the snapshot is not recorded');
      b.restore = { backupId: snap.id, artifact: snap.artifact };
    }
    // Else no restore: Prepare with replica_of alone clones the source.
    const name = c.instances.get(b.instanceId)?.name ?? b.instanceId;
    const access = d.access[i]!;
    for (const s of build) {
      await s.run(b, {
        signal: ctx.signal,
        progress: (p) => ctx.progress({ ...p, message: `${name}: ${p.message}` }),
        replicaOf: async () => {
          const source = liveRow(c, d.sourceId);
          const info = sourceInfo(c, source, access);
          if (d.snapshotBackupId || !traitsOf(c, source).cloneEndpoint) return info;
          // A clone through the source's endpoint: opened for this Prepare alone.
          const { port, ticket } = await openCloneEndpoint(c, source, b.instanceId);
          return { ...info, clonePort: port, cloneTicket: ticket };
        },
      });
      // Allocation and certificates are kept as each step ends.
      ctx.save();
    }
    d.built.push(b.instanceId);
    ctx.save();
  };

  return {
    kind: 'create-replicas',
    deadlineMs: c.config.taskDeadlineMs,
    steps: [
      { name: 'snapshot', run: snapshot },
      {
        name: 'build',
        async run(ctx) {
          const results = await Promise.allSettled(ctx.data.builds.map((_, i) => buildOne(ctx, i)));
          const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [{ id: ctx.data.builds[i]!.instanceId, err: r.reason as Error }] : []));
          if (failed.length === 0) return;
          // The first failure's cause decides whether the engine asks again;
          // replicas built already are skipped then.
          throw new Error(failed.map((f) => `replica ${f.id}: ${f.err?.message ?? String(f.err)}`).join('; '), { cause: failed[0]!.err });
        },
      },
      {
        name: 'cleanup',
        async run(ctx) {
          if (ctx.data.snapshotBackupId) await removeSnapshot(c, ctx.data.snapshotBackupId);
        },
      },
      {
        name: 'activate',
        commit(ctx) {
          for (const b of ctx.data.builds) {
            if (!c.instances.get(b.instanceId)) continue;
            c.instances.update(b.instanceId, { status: 'ACTIVE', task_id: null });
            c.events.emit('instance', b.instanceId);
          }
          c.events.emit('instance', ctx.data.sourceId);
        },
      },
    ],
    onFailed: (_task, data, step, message) => {
      for (const b of data.builds) {
        const r = c.instances.get(b.instanceId);
        if (r && r.status !== 'ACTIVE') failInstance(c, b.instanceId, step, message);
      }
      const snapId = data.snapshotBackupId;
      if (!snapId) return;
      const snap = c.backups.get(snapId);
      if (snap && snap.status !== 'COMPLETED') c.backups.update(snap.id, { status: 'FAILED', fault_step: step, fault_message: message, task_id: null });
      // After the transaction onFailed runs in: the stores are called.
      setImmediate(() => {
        if (snap?.status === 'COMPLETED') void removeSnapshot(c, snap.id);
        else void removeFailedBackupObjects(c, snapId, data.sourceId);
      });
    },
    scrub: (data) => ({ ...data, builds: data.builds.map(scrubCreateData) }),
  };
}

/**
 * The snapshot's objects and record. Kept when a backup was made on top of
 * it since (a user's incremental needs it); a store that fails is logged
 * and the record kept, so the user can delete it later (it is listed as a
 * backup of the source).
 */
async function removeSnapshot(c: ControlContext, backupId: string): Promise<void> {
  const snap = c.backups.get(backupId);
  if (!snap) return;
  if (c.backups.children(snap.id).length > 0) {
    c.log.info({ backup: snap.id }, 'the replica snapshot is kept: a backup was made on top of it');
    return;
  }
  try {
    await deleteBackup(c, { project: snap.project, admin: true }, snap.id);
  } catch (err) {
    c.log.warn({ backup: snap.id, err: (err as Error).message }, 'the replica snapshot could not be removed; it stays listed as a backup of the source');
  }
}
