// Cluster records (issue 13, docs/clusters.md). A cluster's members are
// instance rows whose cluster_id names it. CONTRACT: the row shape below is
// fixed; the store's methods are filled in by the control's cluster work.

/**
 * Trove's cluster tasks (numeric ids in REST's task.id and the proto's
 * ClusterTask): NONE 1, BUILDING 2, DELETING 3, GROWING_CLUSTER 5,
 * SHRINKING_CLUSTER 6, RESTARTING_CLUSTER 8 (full-outage recovery).
 */
export type ClusterTaskName = 'NONE' | 'BUILDING' | 'DELETING' | 'GROWING_CLUSTER' | 'SHRINKING_CLUSTER' | 'RESTARTING_CLUSTER';

export const CLUSTER_TASK_IDS: Readonly<Record<ClusterTaskName, number>> = {
  NONE: 1,
  BUILDING: 2,
  DELETING: 3,
  GROWING_CLUSTER: 5,
  SHRINKING_CLUSTER: 6,
  RESTARTING_CLUSTER: 8,
};

export const CLUSTER_TASK_DESCRIPTIONS: Readonly<Record<ClusterTaskName, string>> = {
  NONE: 'No tasks for the cluster.',
  BUILDING: 'Building the initial cluster.',
  DELETING: 'Deleting the cluster.',
  GROWING_CLUSTER: 'Increasing the size of the cluster.',
  SHRINKING_CLUSTER: 'Decreasing the size of the cluster.',
  RESTARTING_CLUSTER: 'Recovering the cluster after a full outage.',
};

export interface ClusterRow {
  id: string;
  project: string;
  name: string;
  datastore: string;
  datastore_version: string;
  /** galera, redis-cluster. */
  strategy: string;
  task: ClusterTaskName;
  /** The running task's id. */
  task_id: string | null;
  /** Why the last task failed ('' when none did). */
  fault_step: string | null;
  fault_message: string | null;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
}
