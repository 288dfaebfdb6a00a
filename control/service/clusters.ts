// Clusters, as callers ask for them: create, list, get, grow, shrink,
// delete, reset status. Transport-agnostic like instances.ts: the gRPC
// ClusterService (control/api/cluster-service.ts) and the REST bridge
// (control/rest/routes-clusters.ts) both call these. Every input is
// validated here, with the caller's own field names, before a workflow
// (control/workflows/cluster/) is submitted. Full-outage recovery is not
// asked for: the control starts it (control/cluster/recovery-watcher.ts).
import type { ControlContext } from '../context.js';
import { conflict, ControlError, invalid, notFound } from '../errors.js';
import type { ClusterRow } from '../store/clusters.js';
import type { InstanceRow } from '../store/instances.js';
import type { VersionRow } from '../store/catalog.js';
import { clusterDatastores, strategyOf, strategyOfManager, type ClusterStrategy } from '../workflows/cluster/strategies.js';
import { submitClusterCreate, submitClusterDelete, submitClusterGrow, submitClusterShrink, type NewMember } from '../workflows/cluster/submit.js';
import { pageOf, type Caller, type Page, type PageRequest } from './caller.js';
import { agentLiveness } from './agent-liveness.js';
import { ClusterNodeStatus } from '../../proto/gen/coffer/agent/v1/cluster.js';
import { MAX_VOLUME_GB } from './instances.js';
import { configurationForCreate } from './configurations.js';

/** One member to create. */
export interface ClusterMemberInput {
  /** Empty: the smallest flavor. */
  flavorId?: string;
  /** 0 or undefined: 1 GB. */
  volumeSizeGb?: number;
  /** Redis Cluster: 'master' (default) or 'replica'. Galera: none. */
  role?: string;
  /** Kept for Trove's API; the local driver has one zone. */
  availabilityZone?: string;
}

export interface CreateClusterInput {
  name: string;
  datastore: string;
  /** Empty: the datastore's default version. */
  datastoreVersion?: string;
  instances: ClusterMemberInput[];
  /** A configuration group of the datastore version: every member carries it. */
  configurationId?: string;
}

/**
 * How the caller's transport names the fields, so a refusal names the field
 * the caller sent (REST: flavorRef, volume.size, instances; gRPC:
 * flavor_id, volume_size_gb, instances).
 */
export interface ClusterFieldNames {
  readonly instances: string;
  readonly flavor: string;
  readonly volume: string;
  /** The member's role (REST: type; gRPC: role). Default "role". */
  readonly role?: string;
}

export const GRPC_CLUSTER_FIELDS: ClusterFieldNames = { instances: 'instances', flavor: 'flavor_id', volume: 'volume_size_gb', role: 'role' };
export const REST_CLUSTER_FIELDS: ClusterFieldNames = { instances: 'instances', flavor: 'flavorRef', volume: 'volume.size', role: 'type' };

export interface ClusterView {
  readonly cluster: ClusterRow;
  /** Members in creation order. */
  readonly members: InstanceRow[];
}

/** 404 for another project's cluster (and for a deleted one). */
export function findCluster(c: ControlContext, caller: Caller, id: string): ClusterRow {
  const r = id ? c.clusters.get(id, caller) : undefined;
  if (!r) throw notFound('cluster', id);
  return r;
}

/** Members of a cluster, in creation order. */
export function clusterMembers(c: ControlContext, clusterId: string): InstanceRow[] {
  return c.instances.clusterMembers(clusterId);
}

const viewOf = (c: ControlContext, id: string): ClusterView => ({ cluster: c.clusters.get(id)!, members: c.instances.clusterMembers(id) });

/** The cluster strategy of a datastore version; refused naming the datastores that have one. */
function strategyFor(v: VersionRow): ClusterStrategy {
  const s = strategyOfManager(v.manager);
  if (!s) throw invalid(`datastore ${v.datastore} has no cluster strategy; clusters are offered for ${clusterDatastores().join(', ')}`);
  return s;
}

/** Checks the members asked for, naming the caller's field of the first that is wrong. */
function validateMembers(c: ControlContext, strategy: ClusterStrategy, inputs: readonly ClusterMemberInput[] | undefined, f: ClusterFieldNames, like?: InstanceRow): NewMember[] {
  const list = inputs ?? [];
  if (!list.length) throw invalid(`${f.instances} is required: give each member's ${f.flavor} and ${f.volume}`);
  const roleField = f.role ?? 'role';
  const smallest = c.catalog.flavors()[0];
  const out = list.map((m, i): NewMember => {
    const at = `${f.instances}[${i}]`;
    const flavor = m.flavorId ? c.catalog.flavor(m.flavorId) : smallest;
    if (!flavor) throw invalid(`${at}.${f.flavor} "${m.flavorId}" is not a known flavor; see ListFlavors`);
    const size = m.volumeSizeGb ?? 0;
    if (!Number.isInteger(size) || size < 0 || size > MAX_VOLUME_GB) throw invalid(`${at}.${f.volume} must be 1-${MAX_VOLUME_GB} GB, got ${String(m.volumeSizeGb)}`);
    const role = m.role ?? '';
    if (role && !strategy.roles.includes(role)) {
      const roles = strategy.roles.filter(Boolean);
      throw invalid(`${at}.${roleField} "${role}" is not a member role of ${strategy.name}${roles.length ? `; use ${roles.join(' or ')}` : ': its members have no roles'}`);
    }
    return { flavor, volumeGb: size || 1, role: role || strategy.defaultRole };
  });
  if (strategy.sameFlavor) {
    const first = like ? { flavor: like.flavor_id, volume: like.volume_size_gb, at: `the cluster's members` } : { flavor: out[0]!.flavor.id, volume: out[0]!.volumeGb, at: `${f.instances}[0]` };
    out.forEach((m, i) => {
      if (m.flavor.id !== first.flavor) throw invalid(`${f.instances}[${i}].${f.flavor} "${m.flavor.id}" differs from ${first.at} ("${first.flavor}"): every member of a ${strategy.name} cluster has the same flavor`);
      if (m.volumeGb !== first.volume) throw invalid(`${f.instances}[${i}].${f.volume} ${m.volumeGb} GB differs from ${first.at} (${first.volume} GB): every member of a ${strategy.name} cluster has the same volume size`);
    });
  }
  return out;
}

/** 409 unless the cluster runs no task. */
function requireIdle(r: ClusterRow, doing: string): void {
  if (r.task === 'DELETING') throw conflict(`cluster ${r.name} (${r.id}) is being deleted; it cannot ${doing}`);
  if (r.task !== 'NONE' || r.task_id) throw conflict(`cluster ${r.name} (${r.id}) has task ${r.task} running (${r.task_id}); ${doing} when it has ended`);
}

/**
 * 409 naming the first member a grow cannot go through without, from what
 * the conductor recorded (no agent is asked): every member's agent heard
 * (each gets the new member list), and for a strategy that needs it
 * (Redis Cluster: the slots move only when every member answers) every
 * member's datastore running. Without this the grow would wait on the
 * member and fail a step later.
 */
function requireMembersUp(c: ControlContext, r: ClusterRow, strategy: ClusterStrategy, members: readonly InstanceRow[]): void {
  const now = Date.now();
  const fix = 'start it again (or shrink it away) and grow then';
  for (const m of members) {
    const { heartbeat: hb, reachable } = agentLiveness(c.instances, m.id, c.config.heartbeatExpiryMs, now);
    if (!reachable) {
      const seen = hb ? `last heard ${Math.round((now - hb.received_at) / 1000)} s ago` : 'never heard';
      throw conflict(`cluster ${r.name} cannot grow while member ${m.name} (${m.id}) is away (its agent was ${seen}): every member takes the new member list; ${fix}`);
    }
    if (!strategy.growNeedsEveryMember || !hb!.cluster) continue;
    const s = ClusterNodeStatus.fromJSON(JSON.parse(hb!.cluster));
    if (!s.running) {
      throw conflict(`cluster ${r.name} cannot grow while member ${m.name} (${m.id}) is down (its datastore is not running${hb!.reason ? `: ${hb!.reason}` : ''}): a ${strategy.name} grow moves slots only when every member answers; ${fix}`);
    }
  }
}

/** Records the cluster and its members (BUILD, named NAME-member-1...) and submits the create workflow. */
export function createCluster(c: ControlContext, caller: Caller, input: CreateClusterInput, fields: ClusterFieldNames): ClusterView & { taskId: string } {
  const name = (input.name ?? '').trim();
  if (!name || name.length > 200) throw invalid('name is required (1-200 characters)');
  const datastore = (input.datastore ?? '').trim();
  if (!datastore) throw invalid(`datastore is required; clusters are offered for ${clusterDatastores().join(', ')}`);
  const version = input.datastoreVersion || c.catalog.defaultVersion(datastore);
  if (!version) throw invalid(`datastore "${datastore}" is not known; see ListDatastores`);
  const v = c.catalog.version(datastore, version);
  if (!v) throw invalid(`datastore version ${datastore} ${version} is not known; see ListDatastoreVersions`);
  const strategy = strategyFor(v);
  if (!v.active) throw new ControlError('CONTROL_ERR_UNAVAILABLE', `${datastore} ${version} is registered but not available (inactive in the catalog)`);
  const members = validateMembers(c, strategy, input.instances, fields);
  if (members.length < strategy.minMembers) {
    throw invalid(`${fields.instances} has ${members.length} member${members.length === 1 ? '' : 's'}: a ${strategy.name} cluster needs at least ${strategy.minMembers}`);
  }
  const group = input.configurationId ? configurationForCreate(c, caller, input.configurationId, v.datastore, v.name) : undefined;
  const { cluster, taskId } = submitClusterCreate(c, { project: caller.project, name, version: v, strategy, members, configurationId: group?.id ?? null });
  return { ...viewOf(c, cluster.id), taskId };
}

export function listClusters(c: ControlContext, caller: Caller, page: PageRequest): Page<ClusterRow> {
  return pageOf(c.clusters.list(caller, page.limit + 1, page.marker), page.limit);
}

/** Adds members (BUILD) and submits the grow workflow. */
export function growCluster(c: ControlContext, caller: Caller, id: string, instances: ClusterMemberInput[], fields: ClusterFieldNames): ClusterView & { taskId: string } {
  const r = findCluster(c, caller, id);
  requireIdle(r, 'grow');
  const strategy = strategyOf(r);
  const v = c.catalog.version(r.datastore, r.datastore_version);
  if (!v) throw conflict(`cluster ${r.id}'s datastore version ${r.datastore} ${r.datastore_version} is no longer in the catalog`);
  const existing = c.instances.clusterMembers(r.id);
  const members = validateMembers(c, strategy, instances, fields, existing[0]);
  requireMembersUp(c, r, strategy, existing);
  const taskId = submitClusterGrow(c, r, v, strategy, members);
  return { ...viewOf(c, r.id), taskId };
}

/** Submits the shrink workflow for these members (instance ids of this cluster). */
export function shrinkCluster(c: ControlContext, caller: Caller, id: string, instanceIds: string[]): string {
  const r = findCluster(c, caller, id);
  requireIdle(r, 'shrink');
  const ids = instanceIds ?? [];
  if (!ids.length) throw invalid('instances is required: the ids of the members to remove');
  const members = c.instances.clusterMembers(r.id);
  const seen = new Set<string>();
  for (const mid of ids) {
    if (!members.some((m) => m.id === mid)) throw invalid(`instance ${mid} is not a member of cluster ${r.name} (${r.id})`);
    if (seen.has(mid)) throw invalid(`instance ${mid} is named twice`);
    seen.add(mid);
  }
  const left = members.length - ids.length;
  const strategy = strategyOf(r);
  if (left === 0) throw invalid(`removing every member would empty cluster ${r.name}: delete the cluster instead`);
  if (left < strategy.minMembers) throw invalid(`cluster ${r.name} would keep ${left} member${left === 1 ? '' : 's'}: a ${strategy.name} cluster needs at least ${strategy.minMembers}`);
  return submitClusterShrink(c, r, ids);
}

export function deleteCluster(c: ControlContext, caller: Caller, id: string): string {
  const r = findCluster(c, caller, id);
  requireIdle(r, 'be deleted');
  return submitClusterDelete(c, r);
}

/**
 * Trove's reset-status: a cluster whose task is not running any more (it
 * failed, or the control lost it) gets task NONE; members left in a
 * transitional status or in BUILD go to ERROR. A running task is never cut
 * short (409 until it ends or passes its deadline).
 */
export function resetClusterStatus(c: ControlContext, caller: Caller, id: string): ClusterView {
  const r = findCluster(c, caller, id);
  const task = r.task_id ? c.tasks.get(r.task_id) : undefined;
  if (task?.state === 'RUNNING') throw conflict(`cluster ${r.id} has task ${task.id} (${task.kind}) running; it ends by itself or at its deadline`);
  c.db.transaction(() => {
    c.clusters.update(r.id, { task: 'NONE', task_id: null });
    for (const m of c.instances.clusterMembers(r.id)) {
      const mt = m.task_id ? c.tasks.get(m.task_id) : undefined;
      if (mt?.state === 'RUNNING') continue;
      if (m.status === 'ACTIVE' || m.status === 'SHUTDOWN') {
        if (m.task_id) c.instances.update(m.id, { task_id: null });
        continue;
      }
      if (m.status !== 'ERROR') c.instances.addFault(m.id, 'reset_status', `status reset from ${m.status} with the cluster's`);
      c.instances.update(m.id, { status: 'ERROR', task_id: null });
      c.events.emit('instance', m.id);
    }
  })();
  c.events.emit('cluster', r.id);
  return viewOf(c, r.id);
}
