// Records to API messages.
import { DatastoreState } from '../../proto/gen/coffer/agent/v1/lifecycle.js';
import { InstanceStatus, type Instance, type ReplicaRef } from '../../proto/gen/coffer/control/v1/instances.js';
import { BackupKind, BackupStatus, type Backup } from '../../proto/gen/coffer/control/v1/backups.js';
import { TaskState, type Task } from '../../proto/gen/coffer/control/v1/tasks.js';
import type { TaskEvent } from '../../proto/gen/coffer/control/v1/common.js';
import { ClusterTask, type Cluster } from '../../proto/gen/coffer/control/v1/clusters.js';
import type { ClusterRow } from '../store/clusters.js';
import type { InstanceRow, InstanceStatus as Status, InstanceStore } from '../store/instances.js';
import type { BackupRow } from '../store/backups.js';
import type { StepRow, TaskRow } from '../store/tasks.js';
import type { ProgressRecord } from '../events.js';
import { agentLiveness } from '../service/agent-liveness.js';
import { replicationOf, type Lag } from '../service/replication-view.js';
import { memberRole } from '../service/cluster-role.js';

const INSTANCE_STATUS: Readonly<Record<Status, InstanceStatus>> = {
  BUILD: InstanceStatus.INSTANCE_STATUS_BUILD,
  ACTIVE: InstanceStatus.INSTANCE_STATUS_ACTIVE,
  ERROR: InstanceStatus.INSTANCE_STATUS_ERROR,
  REBOOT: InstanceStatus.INSTANCE_STATUS_REBOOT,
  RESIZE: InstanceStatus.INSTANCE_STATUS_RESIZE,
  BACKUP: InstanceStatus.INSTANCE_STATUS_BACKUP,
  DELETING: InstanceStatus.INSTANCE_STATUS_DELETING,
  SHUTDOWN: InstanceStatus.INSTANCE_STATUS_SHUTDOWN,
  PROMOTE: InstanceStatus.INSTANCE_STATUS_PROMOTE,
  EJECT: InstanceStatus.INSTANCE_STATUS_EJECT,
  DETACH: InstanceStatus.INSTANCE_STATUS_DETACH,
};

const replicaRef = (r: InstanceRow | undefined, id: string, lag: Lag): ReplicaRef => ({
  id,
  name: r?.name ?? '',
  status: r ? INSTANCE_STATUS[r.status] : InstanceStatus.INSTANCE_STATUS_UNSPECIFIED,
  lagBytes: lag.bytes,
  lagSeconds: lag.seconds,
});

export function toInstance(r: InstanceRow, store: InstanceStore, heartbeatExpiryMs: number, now = Date.now()): Instance {
  const fault = r.status === 'ERROR' ? store.latestFault(r.id) : undefined;
  const { heartbeat: hb, reachable } = agentLiveness(store, r.id, heartbeatExpiryMs, now);
  const rep = replicationOf(store, r, heartbeatExpiryMs, now);
  return {
    id: r.id,
    name: r.name,
    project: r.project,
    // Running with configuration values that wait for a restart (service/configurations.ts).
    status: r.status === 'ACTIVE' && r.restart_required ? InstanceStatus.INSTANCE_STATUS_RESTART_REQUIRED : INSTANCE_STATUS[r.status],
    datastore: r.datastore,
    datastoreVersion: r.datastore_version,
    flavorId: r.flavor_id,
    volumeSizeGb: r.volume_size_gb,
    host: r.host,
    port: r.port,
    fault: fault ? { step: fault.step, message: fault.message, createdAtMs: fault.created_at } : undefined,
    taskId: r.task_id ?? '',
    datastoreState: hb ? (hb.datastore_state as DatastoreState) : DatastoreState.DATASTORE_STATE_UNSPECIFIED,
    agentReachable: reachable,
    agentLastSeenMs: hb?.received_at ?? 0,
    restoredFromBackupId: r.restored_from_backup_id ?? '',
    createdAtMs: r.created_at,
    updatedAtMs: r.updated_at,
    role: rep.role,
    // The source's own lag is not a figure: -1 (unknown) there.
    replicaOf: rep.role === 'replica' ? replicaRef(rep.source, rep.sourceId, { bytes: -1, seconds: -1 }) : undefined,
    replicas: rep.replicas.map((x) => replicaRef(x.row, x.row.id, x.lag)),
    lagBytes: rep.lag.bytes,
    lagSeconds: rep.lag.seconds,
    autoFailover: rep.autoFailover,
    clusterRole: memberRole(store, r),
    configurationId: r.configuration_id ?? '',
    restorableWindow: undefined,
    archiving: undefined,
    archiveRetentionDays: 0,
  };
}

export function toBackup(r: BackupRow): Backup {
  return {
    id: r.id,
    name: r.name,
    instanceId: r.instance_id,
    project: r.project,
    status: BackupStatus[`BACKUP_STATUS_${r.status}`],
    kind: r.kind === 'FULL' ? BackupKind.BACKUP_KIND_FULL : BackupKind.BACKUP_KIND_INCREMENTAL,
    parentId: r.parent_id ?? '',
    sizeBytes: r.size_bytes,
    storage: r.storage,
    location: r.location,
    checksum: r.checksum,
    fault: r.fault_step ? { step: r.fault_step, message: r.fault_message ?? '', createdAtMs: r.updated_at } : undefined,
    taskId: r.task_id ?? '',
    datastore: r.datastore,
    datastoreVersion: r.datastore_version,
    createdAtMs: r.created_at,
    updatedAtMs: r.updated_at,
  };
}

export function toTask(t: TaskRow, steps: StepRow[]): Task {
  return {
    id: t.id,
    kind: t.kind,
    state: TaskState[`TASK_STATE_${t.state}`],
    resourceId: t.resource_id,
    currentStep: t.current_step,
    steps: steps.map((s) => ({ name: s.name, state: s.state, attempts: s.attempts, error: s.error })),
    error: t.error,
    createdAtMs: t.created_at,
    updatedAtMs: t.updated_at,
    deadlineMs: t.deadline,
  };
}

export function toTaskEvent(e: ProgressRecord): TaskEvent {
  return {
    taskId: e.task_id,
    step: e.step,
    phase: e.phase,
    message: e.message,
    percent: e.percent,
    bytesDone: e.bytes_done,
    bytesTotal: e.bytes_total,
    atMs: e.at,
  };
}

/** Each member's role is the one its agent last reported (control/service/cluster-role.ts). */
export function toCluster(r: ClusterRow, members: readonly InstanceRow[], store: InstanceStore, heartbeatExpiryMs: number, now = Date.now()): Cluster {
  return {
    id: r.id,
    name: r.name,
    project: r.project,
    datastore: r.datastore,
    datastoreVersion: r.datastore_version,
    strategy: r.strategy,
    task: ClusterTask[`CLUSTER_TASK_${r.task}`],
    taskId: r.task_id ?? '',
    fault: r.fault_step ? { step: r.fault_step, message: r.fault_message ?? '', createdAtMs: r.updated_at } : undefined,
    instances: members.map((m) => toInstance(m, store, heartbeatExpiryMs, now)),
    createdAtMs: r.created_at,
    updatedAtMs: r.updated_at,
    configurationId: members.find((m) => m.configuration_id)?.configuration_id ?? '',
  };
}
