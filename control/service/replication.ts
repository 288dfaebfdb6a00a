// Replication, as callers ask for it: create replicas of an instance,
// promote a replica (planned switchover), eject a source that is gone,
// detach a replica. Transport-agnostic like instances.ts: gRPC and REST both
// call these. Every input is validated here, with the caller's own field
// names, before a workflow (control/workflows/replication/) is submitted:
// the workflows take validated input.
import type { ControlContext } from '../context.js';
import { conflict, ControlError, invalid } from '../errors.js';
import type { InstanceRow } from '../store/instances.js';
import { submitCreateReplicas, submitDetach, submitEject, submitSwitchover } from '../workflows/replication/submit.js';
import { agentLiveness } from './agent-liveness.js';
import type { Caller } from './caller.js';
import { findInstance, type CreateInstanceInput } from './instances.js';

/** Replicas one create may make (the issue: 1 to 3). */
export const MAX_REPLICA_COUNT = 3;

/** The managers whose agents have a replication capability. */
export const REPLICATING_MANAGERS: ReadonlySet<string> = new Set(['mariadb', 'mysql', 'postgresql', 'redis']);

/**
 * What a replica takes from its source, keyed by the service's field, with
 * the name a gRPC caller knows it by. The REST bridge passes its own names
 * (flavorRef, volume, ...) so the refusal names the field the caller sent.
 */
export const GRPC_FIELD_NAMES: Readonly<Record<SourceField, string>> = {
  datastore: 'datastore',
  datastoreVersion: 'datastore_version',
  flavorId: 'flavor_id',
  volumeSizeGb: 'volume_size_gb',
  databases: 'databases',
  users: 'users',
  rootPassword: 'root_password',
  overrides: 'overrides',
  backupId: 'backup_id',
};

export type SourceField = 'datastore' | 'datastoreVersion' | 'flavorId' | 'volumeSizeGb' | 'databases' | 'users' | 'rootPassword' | 'overrides' | 'backupId';

const given = (v: unknown): boolean => {
  if (v === undefined || v === null || v === '' || v === 0) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
};

/** NAME for one replica, NAME-1 ... NAME-n for more. */
export function replicaNames(name: string, count: number): string[] {
  return count === 1 ? [name] : Array.from({ length: count }, (_, i) => `${name}-${i + 1}`);
}

/** The refusal when an instance's agent is not heard: how long ago it was. */
function silence(c: ControlContext, r: InstanceRow): string {
  const hb = c.instances.heartbeat(r.id);
  return hb ? `its agent was last heard ${Math.round((Date.now() - hb.received_at) / 1000)} s ago` : 'its agent was never heard';
}

/** Every member of the set the instance heads (itself first), for state checks. */
function setOf(c: ControlContext, source: InstanceRow): InstanceRow[] {
  return [source, ...c.instances.replicasOf(source.id)];
}

/** 409 unless every member is ACTIVE with no task running. */
function requireSetIdle(c: ControlContext, source: InstanceRow, doing: string): void {
  for (const m of setOf(c, source)) {
    if (m.task_id || m.status !== 'ACTIVE') {
      const who = m.id === source.id ? `its source ${m.name} (${m.id})` : `member ${m.name} (${m.id})`;
      throw conflict(`${doing} needs every member of the replication set ACTIVE with no task running; ${who} is ${m.status}${m.task_id ? ` (task ${m.task_id} running)` : ''}`);
    }
  }
}

export interface CreatedReplicas {
  /** The first replica (the only one when replica_count is 1). */
  readonly instance: InstanceRow;
  /** Every replica created, in name order. */
  readonly replicas: InstanceRow[];
  readonly taskId: string;
}

/**
 * Creates `replicaCount` replicas of `req.replicaOf`. They take the source's
 * datastore, version, flavor and volume size, and their data from it, so
 * giving any of those (or users, databases, a backup, a root password,
 * overrides) beside replica_of is refused, naming the field.
 */
export function createReplicas(
  c: ControlContext,
  caller: Caller,
  req: CreateInstanceInput,
  fieldNames: Readonly<Record<SourceField, string>> = GRPC_FIELD_NAMES,
  names: { replicaOf: string; replicaCount: string } = { replicaOf: 'replica_of', replicaCount: 'replica_count' },
): CreatedReplicas {
  const name = (req.name ?? '').trim();
  if (!name || name.length > 255) throw invalid('name is required (1-255 characters)');
  const sourceId = req.replicaOf ?? '';
  if (!sourceId.trim()) throw invalid(`${names.replicaOf} must be the id of the instance to replicate`);
  for (const key of Object.keys(fieldNames) as SourceField[]) {
    if (given(req[key])) {
      throw invalid(`${fieldNames[key]} cannot be given with ${names.replicaOf}: a replica takes its source's datastore, version, flavor and volume size, and its data (databases, users, root) from the source`);
    }
  }
  const count = req.replicaCount ?? 1;
  if (!Number.isInteger(count) || count < 1 || count > MAX_REPLICA_COUNT) {
    throw invalid(`${names.replicaCount} must be a whole number from 1 to ${MAX_REPLICA_COUNT}, got ${JSON.stringify(req.replicaCount)}`);
  }
  if (count > 1 && name.length > 253) throw invalid(`name is too long for ${count} replicas: they are named NAME-1 to NAME-${count}, at most 255 characters`);

  const source = findInstance(c, caller, sourceId);
  if (source.cluster_id) {
    // A switchover or eject would make a cluster member a replica of another instance.
    throw invalid(`instance ${source.name} (${source.id}) is a member of cluster ${c.clusters.get(source.cluster_id)?.name ?? source.cluster_id} (${source.cluster_id}): its members are not replication sources`);
  }
  if (source.replica_of) {
    const of = c.instances.get(source.replica_of);
    const named = of ? `${of.name} (${of.id})` : source.replica_of;
    throw new ControlError('CONTROL_ERR_PERMISSION_DENIED', `instance ${source.name} (${source.id}) is a replica of ${named}: a replica cannot have replicas; create the replica of ${named} instead`);
  }
  const v = c.catalog.version(source.datastore, source.datastore_version);
  if (!v || !REPLICATING_MANAGERS.has(v.manager)) {
    throw new ControlError('CONTROL_ERR_UNAVAILABLE', `${source.datastore} ${source.datastore_version} has no replication in Coffer (available for ${[...REPLICATING_MANAGERS].join(', ')})`);
  }
  if (source.status !== 'ACTIVE' || source.task_id) {
    throw conflict(`instance ${source.name} (${source.id}) is ${source.status}${source.task_id ? ` (task ${source.task_id} running)` : ''}; replicas can be made of an ACTIVE source with no task running`);
  }
  if (source.fenced) throw conflict(`instance ${source.name} (${source.id}) was ejected from its set and has not rejoined yet; replicate the set's current source instead`);
  if (!agentLiveness(c.instances, source.id, c.config.heartbeatExpiryMs).reachable) {
    throw conflict(`instance ${source.name} (${source.id}) cannot be replicated now: ${silence(c, source)}`);
  }
  // The flag is the set's: adding replicas may turn it on, never off behind the caller's back.
  if (req.autoFailover === false && source.auto_failover === 1 && c.instances.replicasOf(source.id).length > 0) {
    throw invalid(`auto_failover is on for the replication set of ${source.name} (${source.id}); new replicas join it as it is: leave auto_failover out`);
  }
  // Not given: a new set takes the control's default (--auto-failover), an
  // existing set keeps its own (the workflow's submit decides, on the source's row).
  const r = submitCreateReplicas(c, caller, { source, names: replicaNames(name, count), ...(req.autoFailover === undefined ? {} : { autoFailover: req.autoFailover }) });
  return { instance: r.replicas[0]!, replicas: r.replicas, taskId: r.taskId };
}

/**
 * A planned switchover: the replica becomes its set's source, the old
 * source its replica. Only a replica, and only while the whole set is ACTIVE
 * and the source's agent is heard (a source that is gone is ejected instead).
 */
export function promoteToReplicaSource(c: ControlContext, caller: Caller, id: string): string {
  const r = findInstance(c, caller, id);
  if (!r.replica_of) {
    const n = c.instances.replicasOf(r.id).length;
    throw invalid(n ? `instance ${r.name} (${r.id}) is already the source of its replication set; promote one of its replicas instead` : `instance ${r.name} (${r.id}) is not a replica; only a replica can be promoted to replica source`);
  }
  const source = c.instances.get(r.replica_of);
  if (!source) throw conflict(`the source ${r.replica_of} of replica ${r.name} (${r.id}) no longer exists; detach the replica instead`);
  requireSetIdle(c, source, 'promote');
  if (!agentLiveness(c.instances, source.id, c.config.heartbeatExpiryMs).reachable) {
    throw conflict(`the source ${source.name} (${source.id}) cannot take part in a switchover: ${silence(c, source)}; eject it instead (eject_replica_source on ${source.id})`);
  }
  return submitSwitchover(c, r);
}

/**
 * Eject a source that is gone: refused (400, as Trove) while its heartbeat
 * is fresh (a live source is switched over with promote, which loses
 * nothing) or when it has no replicas.
 */
export function ejectReplicaSource(c: ControlContext, caller: Caller, id: string): string {
  const r = findInstance(c, caller, id);
  if (r.replica_of) throw invalid(`instance ${r.name} (${r.id}) is a replica of ${r.replica_of}; eject_replica_source is for the source of a set`);
  const replicas = c.instances.replicasOf(r.id);
  if (!replicas.length) throw invalid(`instance ${r.name} (${r.id}) has no replicas: there is no set to eject it from`);
  const { heartbeat: hb, reachable } = agentLiveness(c.instances, r.id, c.config.heartbeatExpiryMs);
  if (reachable) {
    const ago = hb ? Math.round((Date.now() - hb.received_at) / 1000) : 0;
    throw invalid(
      `the source ${r.name} (${r.id}) cannot be ejected: its agent was heard ${ago} s ago (a heartbeat counts for ${Math.round(c.config.heartbeatExpiryMs / 1000)} s). ` +
        'Eject is for a source that is gone; to switch a live source over without losing a transaction, promote one of its replicas',
    );
  }
  for (const m of [r, ...replicas]) {
    if (m.task_id) throw conflict(`instance ${m.name} (${m.id}) of the set has task ${m.task_id} running; eject when it has ended`);
  }
  if (!replicas.some((m) => m.status === 'ACTIVE')) throw conflict(`no replica of ${r.name} (${r.id}) is ACTIVE to take over`);
  return submitEject(c, r);
}

/** Makes a replica standalone and writable. */
export function detachReplica(c: ControlContext, caller: Caller, id: string): string {
  const r = findInstance(c, caller, id);
  if (!r.replica_of) throw invalid(`instance ${r.name} (${r.id}) is not a replica: there is nothing to detach it from`);
  if (r.task_id || r.status !== 'ACTIVE') {
    throw conflict(`instance ${r.name} (${r.id}) is ${r.status}${r.task_id ? ` (task ${r.task_id} running)` : ''}; detach needs it ACTIVE with no task running`);
  }
  const source = c.instances.get(r.replica_of);
  if (source?.task_id && ['PROMOTE', 'EJECT'].includes(source.status)) {
    throw conflict(`a ${source.status.toLowerCase()} runs in the set of ${r.name} (task ${source.task_id}); detach when it has ended`);
  }
  return submitDetach(c, r);
}
