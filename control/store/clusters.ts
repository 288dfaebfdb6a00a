// Cluster records (issue 13, docs/clusters.md). A cluster's members are
// instance rows whose cluster_id names it (InstanceStore.clusterMembers).
// The row shape below is the contract the REST bridge and the gRPC view
// read.
import type { Db } from '../db/database.js';
import { scopeWhere, type Scope } from './scope.js';

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

export type NewCluster = Pick<ClusterRow, 'id' | 'project' | 'name' | 'datastore' | 'datastore_version' | 'strategy'>;

export type ClusterPatch = Partial<Pick<ClusterRow, 'task' | 'task_id' | 'fault_step' | 'fault_message'>>;

export class ClusterStore {
  constructor(private readonly db: Db) {}

  insert(c: NewCluster, now = Date.now()): void {
    this.db
      .prepare(
        `INSERT INTO clusters (id, project, name, datastore, datastore_version, strategy, task, created_at, updated_at)
         VALUES (@id, @project, @name, @datastore, @datastore_version, @strategy, 'NONE', @now, @now)`,
      )
      .run({ ...c, now });
  }

  /** A live cluster visible to the scope (undefined for another project's or a deleted one). */
  get(id: string, scope?: Scope): ClusterRow | undefined {
    const w = scope ? scopeWhere(scope) : { sql: '1 = 1', params: [] };
    return this.db.prepare(`SELECT * FROM clusters WHERE id = ? AND deleted_at IS NULL AND ${w.sql}`).get(id, ...w.params) as ClusterRow | undefined;
  }

  /** A page in id order, after `afterId`. */
  list(scope: Scope, limit: number, afterId: string): ClusterRow[] {
    const w = scopeWhere(scope);
    return this.db
      .prepare(`SELECT * FROM clusters WHERE deleted_at IS NULL AND ${w.sql} AND id > ? ORDER BY id LIMIT ?`)
      .all(...w.params, afterId, limit) as ClusterRow[];
  }

  /** Every live cluster (the recovery watcher's round). */
  all(): ClusterRow[] {
    return this.db.prepare('SELECT * FROM clusters WHERE deleted_at IS NULL ORDER BY created_at').all() as ClusterRow[];
  }

  update(id: string, patch: ClusterPatch, now = Date.now()): void {
    const keys = Object.keys(patch);
    if (!keys.length) return;
    const set = keys.map((k) => `${k} = @${k}`).join(', ');
    this.db.prepare(`UPDATE clusters SET ${set}, updated_at = @now WHERE id = @id`).run({ ...patch, id, now });
  }

  markDeleted(id: string, now = Date.now()): void {
    this.db.prepare("UPDATE clusters SET deleted_at = ?, updated_at = ?, task = 'NONE', task_id = NULL WHERE id = ?").run(now, now, id);
  }

  /**
   * The next member number of a cluster (NAME-member-N): one past the
   * highest any member ever had, removed members included, so a name is
   * never given twice in one cluster.
   */
  nextMemberNumber(clusterId: string, clusterName: string): number {
    const rows = this.db.prepare('SELECT name FROM instances WHERE cluster_id = ?').all(clusterId) as Array<{ name: string }>;
    const prefix = `${clusterName}-member-`;
    let max = 0;
    for (const r of rows) {
      const n = r.name.startsWith(prefix) ? Number(r.name.slice(prefix.length)) : NaN;
      if (Number.isInteger(n) && n > max) max = n;
    }
    return Math.max(max, rows.length) + 1;
  }
}
