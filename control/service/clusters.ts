// Clusters, as callers ask for them: create, list, get, grow, shrink,
// delete, reset status. Transport-agnostic like instances.ts: the gRPC
// ClusterService (control/api/cluster-service.ts) and the REST bridge
// (control/rest/routes-clusters.ts) both call these. Every input is
// validated here, before a workflow (control/workflows/cluster/) is
// submitted. CONTRACT: these signatures are fixed; the bodies are filled in
// by the control's cluster work.
import type { ControlContext } from '../context.js';
import { ControlError } from '../errors.js';
import type { ClusterRow } from '../store/clusters.js';
import type { InstanceRow } from '../store/instances.js';
import type { Caller, Page, PageRequest } from './caller.js';

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
}

export const GRPC_CLUSTER_FIELDS: ClusterFieldNames = { instances: 'instances', flavor: 'flavor_id', volume: 'volume_size_gb' };
export const REST_CLUSTER_FIELDS: ClusterFieldNames = { instances: 'instances', flavor: 'flavorRef', volume: 'volume.size' };

export interface ClusterView {
  readonly cluster: ClusterRow;
  /** Members in creation order. */
  readonly members: InstanceRow[];
}

const todo = (what: string): never => {
  throw new ControlError('CONTROL_ERR_UNAVAILABLE', `${what} is not built yet`);
};

/** 404 for another project's cluster. */
export function findCluster(c: ControlContext, caller: Caller, id: string): ClusterRow {
  void c; void caller; void id;
  return todo('clusters');
}

/** Members of a cluster, in creation order. */
export function clusterMembers(c: ControlContext, clusterId: string): InstanceRow[] {
  void c; void clusterId;
  return todo('clusters');
}

/** Records the cluster and its members (BUILD, named NAME-member-1...) and submits the create workflow. */
export function createCluster(c: ControlContext, caller: Caller, input: CreateClusterInput, fields: ClusterFieldNames): ClusterView & { taskId: string } {
  void c; void caller; void input; void fields;
  return todo('cluster create');
}

export function listClusters(c: ControlContext, caller: Caller, page: PageRequest): Page<ClusterRow> {
  void c; void caller; void page;
  return todo('clusters');
}

/** Adds members (BUILD) and submits the grow workflow. */
export function growCluster(c: ControlContext, caller: Caller, id: string, instances: ClusterMemberInput[], fields: ClusterFieldNames): ClusterView & { taskId: string } {
  void c; void caller; void id; void instances; void fields;
  return todo('cluster grow');
}

/** Submits the shrink workflow for these members (instance ids of this cluster). */
export function shrinkCluster(c: ControlContext, caller: Caller, id: string, instanceIds: string[]): string {
  void c; void caller; void id; void instanceIds;
  return todo('cluster shrink');
}

export function deleteCluster(c: ControlContext, caller: Caller, id: string): string {
  void c; void caller; void id;
  return todo('cluster delete');
}

/** Trove's reset-status: task NONE, members in BUILD go to ERROR. */
export function resetClusterStatus(c: ControlContext, caller: Caller, id: string): ClusterView {
  void c; void caller; void id;
  return todo('cluster reset-status');
}
