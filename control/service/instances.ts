// Instances: create, list, get, rename, delete, restart, resize volume,
// reset status. Transport-agnostic: both the gRPC InstanceService and the
// REST bridge call these, so the two APIs cannot drift apart.
import { randomUUID } from 'node:crypto';
import type { Database, User } from '../../proto/gen/coffer/agent/v1/common.js';
import { DatastoreState } from '../../proto/gen/coffer/agent/v1/lifecycle.js';
import type { ControlContext } from '../context.js';
import { conflict, ControlError, invalid, notFound } from '../errors.js';
import type { InstanceRow } from '../store/instances.js';
import type { CreateData } from '../workflows/create.js';
import { agentLiveness } from './agent-liveness.js';
import { pageOf, type Caller, type Page, type PageRequest } from './caller.js';
import { restoreTargetOf } from './restore-point.js';

export const MAX_VOLUME_GB = 16_384;

export interface CreateInstanceInput {
  name: string;
  /** Empty: mariadb. */
  datastore?: string;
  /** Empty: the datastore's default version. */
  datastoreVersion?: string;
  /** Empty: the smallest flavor. */
  flavorId?: string;
  /** 0: 1 GB. */
  volumeSizeGb?: number;
  databases?: Database[];
  users?: User[];
  rootPassword?: string;
  overrides?: Record<string, string>;
  /** Restore this COMPLETED backup into the new instance. */
  backupId?: string;
  /** With backupId: restore to this point (restore-point.ts); at most one. */
  restoreTime?: string;
  restoreLsn?: string;
  restoreGtid?: string;
  /** Create replicas of this instance instead (service/replication.ts). */
  replicaOf?: string;
  /** With replicaOf: 1 to 3 (undefined: 1). */
  replicaCount?: number;
  /** With replicaOf: the set's automatic failover (undefined: the control's default). */
  autoFailover?: boolean;
}

export function findInstance(c: ControlContext, caller: Caller, id: string): InstanceRow {
  const r = id ? c.instances.get(id, caller) : undefined;
  if (!r) throw notFound('instance', id);
  return r;
}

export function createInstance(c: ControlContext, caller: Caller, req: CreateInstanceInput): { instance: InstanceRow; taskId: string } {
  const name = (req.name ?? '').trim();
  if (!name || name.length > 255) throw invalid('name is required (1-255 characters)');
  // Replicas are created by createReplicas (service/replication.ts); the
  // transports choose it when replica_of is given.
  if (req.replicaOf) throw invalid('replica_of: create replicas with createReplicas');
  if (req.replicaCount !== undefined && req.replicaCount !== 1) throw invalid('replica_count is only for creating replicas: give replica_of too');
  if (req.autoFailover !== undefined) throw invalid('auto_failover is a setting of a replication set: give it with replica_of');
  const datastore = req.datastore || 'mariadb';
  const version = req.datastoreVersion || c.catalog.defaultVersion(datastore);
  if (!version) throw invalid(`datastore "${datastore}" is not known; see ListDatastores`);
  const v = c.catalog.version(datastore, version);
  if (!v) throw invalid(`datastore version ${datastore} ${version} is not known; see ListDatastoreVersions`);
  if (!v.active) throw new ControlError('CONTROL_ERR_UNAVAILABLE', `${datastore} ${version} is registered but not available (inactive in the catalog)`);
  const flavor = req.flavorId ? c.catalog.flavor(req.flavorId) : c.catalog.flavors()[0];
  if (!flavor) throw invalid(`flavor "${req.flavorId}" is not known; see ListFlavors`);
  // Refused here, not after the instance is built: the agent would only fail its Prepare.
  if (v.manager === 'redis' && (req.databases?.length ?? 0) > 0) {
    throw invalid('redis has no databases: create the instance without databases (keys are shared; give ACL users key patterns instead)');
  }
  const size = req.volumeSizeGb ?? 0;
  if (!Number.isInteger(size) || size < 0 || size > MAX_VOLUME_GB) throw invalid(`volume_size_gb must be 1-${MAX_VOLUME_GB}`);
  const volumeGb = size || 1;
  let restore: CreateData['restore'] = null;
  const target = restoreTargetOf(req, !!req.backupId, v.manager);
  if (req.backupId) {
    const b = c.backups.get(req.backupId, caller);
    if (!b) throw notFound('backup', req.backupId);
    if (b.status !== 'COMPLETED' || !b.artifact) throw conflict(`backup ${b.id} is ${b.status}; only a COMPLETED backup can be restored`);
    if (b.datastore !== datastore) throw invalid(`backup ${b.id} is of ${b.datastore}, not ${datastore}`);
    // Only an admin sees another project's backup; its key is that project's
    // (docs/backup-format.md "Keys"), which an instance of this one never holds.
    if (b.project !== caller.project) {
      throw invalid(`backup ${b.id} belongs to project ${b.project}: its data key is wrapped by that project's key, which an instance of project ${caller.project} does not hold; restore it in project ${b.project}`);
    }
    restore = { backupId: b.id, artifact: b.artifact, ...(target ? { target } : {}) };
  }
  const id = randomUUID();
  const data: CreateData = {
    instanceId: id,
    manager: v.manager,
    managerVersion: v.manager_version,
    resources: { vcpus: flavor.vcpus, ramMb: flavor.ram_mb, volumeGb },
    prepare: { rootPassword: req.rootPassword ?? '', databases: req.databases ?? [], users: req.users ?? [], overrides: req.overrides ?? {} },
    restore,
  };
  const taskId = c.engine.submit('create', caller.project, id, data, (tid) => {
    c.instances.insert({ id, project: caller.project, name, datastore, datastore_version: version, flavor_id: flavor.id, volume_size_gb: volumeGb, restored_from_backup_id: restore?.backupId ?? null });
    c.instances.update(id, { task_id: tid });
  });
  return { instance: c.instances.get(id)!, taskId };
}

export function listInstances(c: ControlContext, caller: Caller, page: PageRequest): Page<InstanceRow> {
  return pageOf(c.instances.list(caller, page.limit + 1, page.marker), page.limit);
}

export function renameInstance(c: ControlContext, caller: Caller, id: string, name: string): InstanceRow {
  const r = findInstance(c, caller, id);
  const n = name.trim();
  if (!n || n.length > 255) throw invalid('name is required (1-255 characters)');
  // InstanceStore.update does not take `name` (its patch type is the task
  // engine's fields); renaming is the one API-side write, kept here.
  c.db.prepare('UPDATE instances SET name = ?, updated_at = ? WHERE id = ?').run(n, Date.now(), r.id);
  c.events.emit('instance', r.id);
  return c.instances.get(r.id)!;
}

/** Starts a task on an instance that has none running, setting its status. */
function startTask(c: ControlContext, r: InstanceRow, kind: string, status: InstanceRow['status'], data: object): string {
  const allowed = kind === 'delete' ? ['ACTIVE', 'ERROR', 'SHUTDOWN'] : ['ACTIVE'];
  if (r.task_id || !allowed.includes(r.status)) {
    throw conflict(`instance ${r.id} is ${r.status}${r.task_id ? ` (task ${r.task_id} running)` : ''}; ${kind} needs it ${allowed.join(' or ')}`);
  }
  const id = c.engine.submit(kind, r.project, r.id, data, (taskId) => c.instances.update(r.id, { status, task_id: taskId }));
  c.events.emit('instance', r.id);
  return id;
}

/** 400 for an instance that is a cluster's member: `doing` is done to the cluster as a whole. */
function refuseClusterMember(c: ControlContext, r: InstanceRow, doing: string): void {
  if (!r.cluster_id) return;
  const cluster = c.clusters.get(r.cluster_id);
  throw invalid(`instance ${r.name} (${r.id}) is a member of cluster ${cluster?.name ?? r.cluster_id} (${r.cluster_id}): ${doing}`);
}

export function deleteInstance(c: ControlContext, caller: Caller, id: string): string {
  const r = findInstance(c, caller, id);
  refuseClusterMember(c, r, 'shrink the cluster to remove it, or delete the cluster');
  // Its replicas would follow nothing (issue 12): the caller chooses what becomes of them.
  const replicas = c.instances.replicasOf(r.id);
  if (replicas.length) {
    throw conflict(
      `instance ${r.name} (${r.id}) is the source of ${replicas.length} replica${replicas.length > 1 ? 's' : ''} (${replicas.map((x) => x.name).join(', ')}): ` +
        'promote one of them to replica source, or detach them, before deleting it',
    );
  }
  return startTask(c, r, 'delete', 'DELETING', { instanceId: r.id });
}

export function restartInstance(c: ControlContext, caller: Caller, id: string): string {
  const r = findInstance(c, caller, id);
  return startTask(c, r, 'restart', 'REBOOT', { instanceId: r.id });
}

export function resizeVolume(c: ControlContext, caller: Caller, id: string, volumeSizeGb: number): string {
  const r = findInstance(c, caller, id);
  // Every member of a cluster has the same volume size.
  refuseClusterMember(c, r, 'its members keep one volume size; a cluster\'s volumes are not resized one by one');
  if (!Number.isInteger(volumeSizeGb) || volumeSizeGb > MAX_VOLUME_GB) throw invalid(`volume size must be an integer up to ${MAX_VOLUME_GB} GB`);
  if (volumeSizeGb <= r.volume_size_gb) throw invalid(`volume_size_gb must be larger than the current ${r.volume_size_gb} GB`);
  return startTask(c, r, 'resize', 'RESIZE', { instanceId: r.id, volumeGb: volumeSizeGb });
}

/**
 * Trove's reset_status: an instance left in a transitional status (or
 * ERROR) with no task running any more gets its status back from what the
 * agent last reported: ACTIVE if the datastore runs and
 * the agent is heard, else ERROR. A running task is never cut short: the
 * engine owns it (409 until it ends or passes its deadline).
 */
export function resetStatus(c: ControlContext, caller: Caller, id: string): InstanceRow {
  const r = findInstance(c, caller, id);
  const task = r.task_id ? c.tasks.get(r.task_id) : undefined;
  if (task?.state === 'RUNNING') throw conflict(`instance ${r.id} has task ${task.id} (${task.kind}) running; it ends by itself or at its deadline`);
  // An ACTIVE instance with no task is not stuck: nothing to reset (and a
  // heartbeat sent while it was still building must not demote it).
  if (r.status === 'ACTIVE' && !task) {
    if (r.task_id) c.instances.update(r.id, { task_id: null });
    return c.instances.get(r.id)!;
  }
  const { heartbeat: hb, reachable } = agentLiveness(c.instances, r.id, c.config.heartbeatExpiryMs);
  const healthy = reachable && hb?.datastore_state === DatastoreState.DATASTORE_STATE_ACTIVE;
  const status = healthy ? 'ACTIVE' : 'ERROR';
  if (status === 'ERROR' && r.status !== 'ERROR') c.instances.addFault(r.id, 'reset_status', `status reset from ${r.status}: the agent does not report a running datastore`);
  c.instances.update(r.id, { status, task_id: null });
  c.events.emit('instance', r.id);
  return c.instances.get(r.id)!;
}
