// The cluster operations as the service layer starts them: each records
// its task, the cluster's task and the member rows it changes in one
// transaction (either all exist or none). They take validated input
// (control/service/clusters.ts decides what is allowed and the errors a
// caller sees); a conflict found inside the transaction (a member that
// took a task meanwhile) still refuses.
import { randomUUID } from 'node:crypto';
import type { ControlContext } from '../../context.js';
import { conflict } from '../../errors.js';
import type { ClusterRow, ClusterTaskName } from '../../store/clusters.js';
import type { InstanceRow, InstanceStatus } from '../../store/instances.js';
import type { VersionRow, FlavorRow } from '../../store/catalog.js';
import type { CreateData } from '../create.js';
import type { ClusterCreateData } from './create.js';
import type { ClusterGrowData } from './grow.js';
import type { ClusterShrinkData } from './shrink.js';
import type { ClusterDeleteData } from './delete.js';
import type { ClusterRecoverData } from './recover.js';
import type { ClusterStrategy } from './strategies.js';

/** One validated new member. */
export interface NewMember {
  readonly flavor: FlavorRow;
  readonly volumeGb: number;
  readonly role: string;
}

/**
 * What a member's Prepare gets: no users or databases (those are made
 * through any member afterwards, service/accounts.ts), the control's
 * cluster member overrides (small buffers in tests).
 */
function memberBuild(c: ControlContext, id: string, v: VersionRow, strategy: ClusterStrategy, m: NewMember): CreateData {
  return {
    instanceId: id,
    manager: v.manager,
    managerVersion: v.manager_version,
    resources: { vcpus: m.flavor.vcpus, ramMb: m.flavor.ram_mb, volumeGb: m.volumeGb, clusterPorts: [...strategy.ports] },
    prepare: { rootPassword: '', databases: [], users: [], overrides: { ...c.config.clusterMemberOverrides } },
    restore: null,
  };
}

/** The configuration group a cluster's members carry (every member the same one), null for none. */
export function clusterConfiguration(c: ControlContext, clusterId: string): string | null {
  return c.instances.clusterMembers(clusterId).find((m) => m.configuration_id)?.configuration_id ?? null;
}

function insertMembers(c: ControlContext, cluster: ClusterRow, first: number, members: readonly NewMember[], taskId: string, configurationId: string | null): string[] {
  return members.map((m, i) => {
    const id = randomUUID();
    c.instances.insert({
      id, project: cluster.project, name: `${cluster.name}-member-${first + i}`, datastore: cluster.datastore, datastore_version: cluster.datastore_version,
      flavor_id: m.flavor.id, volume_size_gb: m.volumeGb, restored_from_backup_id: null, cluster_id: cluster.id, cluster_role: m.role,
      configuration_id: configurationId,
    });
    c.instances.update(id, { task_id: taskId });
    return id;
  });
}

/** The cluster takes a task (409 when it runs another). */
function claim(c: ControlContext, cluster: ClusterRow, task: ClusterTaskName, taskId: string): void {
  const now = c.clusters.get(cluster.id);
  if (!now || now.task !== 'NONE' || now.task_id) throw conflict(`cluster ${cluster.name} (${cluster.id}) has task ${now?.task ?? 'DELETING'} running; wait for it to end`);
  c.clusters.update(cluster.id, { task, task_id: taskId });
}

/** Members are claimed for the task, with a status when given (409 when one runs another task). */
function claimMembers(c: ControlContext, taskId: string, members: readonly InstanceRow[], status?: InstanceStatus): void {
  for (const m of members) {
    const r = c.instances.get(m.id);
    if (!r) continue;
    if (r.task_id) throw conflict(`member ${r.name} (${r.id}) has task ${r.task_id} running; wait for it to end`);
    c.instances.update(r.id, status ? { status, task_id: taskId } : { task_id: taskId });
  }
}

export interface ClusterCreateInput {
  project: string;
  name: string;
  version: VersionRow;
  strategy: ClusterStrategy;
  members: readonly NewMember[];
  /** The group every member is created with (its values from Prepare on). */
  configurationId: string | null;
}

/**
 * A new cluster's id: 32 hex digits (a UUID without its dashes). It is the
 * cluster's name on the wire too (Galera's wsrep_cluster_name), which
 * Galera's group communication carries in at most 32 characters: a joiner
 * of a cluster named by a 36-character UUID fails its handshake.
 */
export const newClusterId = (): string => randomUUID().replaceAll('-', '');

export function submitClusterCreate(c: ControlContext, input: ClusterCreateInput): { cluster: ClusterRow; taskId: string } {
  const { version: v, strategy } = input;
  const id = newClusterId();
  const data: ClusterCreateData = { clusterId: id, builds: [], built: [], installed: [] };
  const taskId = c.engine.submit('cluster-create', input.project, id, data, (tid) => {
    c.clusters.insert({ id, project: input.project, name: input.name, datastore: v.datastore, datastore_version: v.name, strategy: strategy.name });
    c.clusters.update(id, { task: 'BUILDING', task_id: tid });
    const cluster = c.clusters.get(id)!;
    const ids = insertMembers(c, cluster, 1, input.members, tid, input.configurationId);
    data.builds = ids.map((mid, i) => memberBuild(c, mid, v, strategy, input.members[i]!));
    c.tasks.saveData(tid, JSON.stringify(data));
  });
  c.events.emit('cluster', id);
  return { cluster: c.clusters.get(id)!, taskId };
}

export function submitClusterGrow(c: ControlContext, cluster: ClusterRow, v: VersionRow, strategy: ClusterStrategy, members: readonly NewMember[]): string {
  const existing = c.instances.clusterMembers(cluster.id);
  const data: ClusterGrowData = { clusterId: cluster.id, existingIds: existing.map((m) => m.id), builds: [], built: [], listed: [], installed: [] };
  const taskId = c.engine.submit('cluster-grow', cluster.project, cluster.id, data, (tid) => {
    claim(c, cluster, 'GROWING_CLUSTER', tid);
    claimMembers(c, tid, existing);
    // New members carry the cluster's group: Prepare gives them its values.
    const ids = insertMembers(c, cluster, c.clusters.nextMemberNumber(cluster.id, cluster.name), members, tid, clusterConfiguration(c, cluster.id));
    data.builds = ids.map((mid, i) => memberBuild(c, mid, v, strategy, members[i]!));
    c.tasks.saveData(tid, JSON.stringify(data));
  });
  c.events.emit('cluster', cluster.id);
  return taskId;
}

export function submitClusterShrink(c: ControlContext, cluster: ClusterRow, removeIds: readonly string[]): string {
  const existing = c.instances.clusterMembers(cluster.id);
  const data: ClusterShrinkData = {
    clusterId: cluster.id,
    removeIds: [...removeIds],
    keepIds: existing.filter((m) => !removeIds.includes(m.id)).map((m) => m.id),
    left: [],
    listed: [],
  };
  const taskId = c.engine.submit('cluster-shrink', cluster.project, cluster.id, data, (tid) => {
    claim(c, cluster, 'SHRINKING_CLUSTER', tid);
    claimMembers(c, tid, existing.filter((m) => !removeIds.includes(m.id)));
    claimMembers(c, tid, existing.filter((m) => removeIds.includes(m.id)), 'DELETING');
  });
  c.events.emit('cluster', cluster.id);
  return taskId;
}

export function submitClusterDelete(c: ControlContext, cluster: ClusterRow): string {
  const members = c.instances.clusterMembers(cluster.id);
  const data: ClusterDeleteData = { clusterId: cluster.id, memberIds: members.map((m) => m.id) };
  const taskId = c.engine.submit('cluster-delete', cluster.project, cluster.id, data, (tid) => {
    claim(c, cluster, 'DELETING', tid);
    claimMembers(c, tid, members, 'DELETING');
  });
  c.events.emit('cluster', cluster.id);
  return taskId;
}

/** Full-outage recovery (the recovery watcher starts it). */
export function submitClusterRecover(c: ControlContext, cluster: ClusterRow): string {
  const members = c.instances.clusterMembers(cluster.id);
  const data: ClusterRecoverData = { clusterId: cluster.id, memberIds: members.map((m) => m.id), recovered: [] };
  const taskId = c.engine.submit('cluster-recover', cluster.project, cluster.id, data, (tid) => {
    claim(c, cluster, 'RESTARTING_CLUSTER', tid);
    claimMembers(c, tid, members, 'REBOOT');
  });
  c.events.emit('cluster', cluster.id);
  return taskId;
}
