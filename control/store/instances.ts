// Instance records, their faults and what the conductor heard from them.
import type { Db } from '../db/database.js';
import { scopeWhere, type Scope } from './scope.js';

/**
 * - BUILD: the create task runs.
 * - ACTIVE: created; the datastore answers.
 * - ERROR: a task failed or passed its deadline; the latest fault says why.
 * - REBOOT / RESIZE / BACKUP: a restart, resize or backup task runs.
 * - DELETING: the delete task runs; the record goes away at its end.
 * - SHUTDOWN: the datastore is stopped.
 * - PROMOTE / EJECT: a switchover or an eject runs in the instance's replication set.
 * - DETACH: the replica is being made standalone.
 */
export type InstanceStatus = 'BUILD' | 'ACTIVE' | 'ERROR' | 'REBOOT' | 'RESIZE' | 'BACKUP' | 'DELETING' | 'SHUTDOWN' | 'PROMOTE' | 'EJECT' | 'DETACH';

export interface InstanceRow {
  id: string;
  project: string;
  name: string;
  status: InstanceStatus;
  datastore: string;
  datastore_version: string;
  flavor_id: string;
  volume_size_gb: number;
  restored_from_backup_id: string | null;
  task_id: string | null;
  compute: string | null;
  host: string;
  port: number;
  agent_port: number;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
  /** For a replica: its source's id. */
  replica_of: string | null;
  /** 1: the control ejects this set's source on its own (kept on the source's row). */
  auto_failover: number;
  /** 1: ejected while it was gone; told FENCED until it has rejoined as a replica. */
  fenced: number;
  /** The cluster this instance is a member of (store/clusters.ts), if any. */
  cluster_id: string | null;
  /** The member's role in its cluster's strategy (redis-cluster: master, replica); '' for none. */
  cluster_role: string;
  /** The id of the backup wrapping key the instance was given (its project's); null: created before per-project keys, it holds the deployment-wide key. */
  backup_key_id: string | null;
  /** The configuration group attached (store/configurations.ts), if any. */
  configuration_id: string | null;
  /** 1: a configuration value applied to it waits for a restart (shown RESTART_REQUIRED while ACTIVE). */
  restart_required: number;
  /** How the last configuration apply went: '', applying, applied, restart_required, failed. */
  config_state: string;
  /** For failed: why. */
  config_message: string;
}

export interface FaultRow {
  step: string;
  message: string;
  created_at: number;
}

export interface HeartbeatRow {
  instance_id: string;
  datastore_state: number;
  reason: string;
  agent_version: string;
  received_at: number;
  /** The agent's last ReplicationStatus (JSON), '' when it sent none. */
  replication: string;
  /** The agent's last ClusterNodeStatus (JSON), '' when it sent none (no cluster's member). */
  cluster: string;
  /** The member's cluster role as last reported while its datastore ran ('' before any, and for galera). */
  cluster_role: string;
  /** Hash slots it served then (redis-cluster). */
  cluster_slots: number;
}

export type NewInstance = Pick<InstanceRow, 'id' | 'project' | 'name' | 'datastore' | 'datastore_version' | 'flavor_id' | 'volume_size_gb' | 'restored_from_backup_id'> &
  Partial<Pick<InstanceRow, 'cluster_id' | 'cluster_role' | 'configuration_id'>>;

export class InstanceStore {
  constructor(private readonly db: Db) {}

  insert(i: NewInstance, now = Date.now()): void {
    this.db
      .prepare(
        `INSERT INTO instances (id, project, name, status, datastore, datastore_version, flavor_id, volume_size_gb,
           restored_from_backup_id, cluster_id, cluster_role, configuration_id, created_at, updated_at)
         VALUES (@id, @project, @name, 'BUILD', @datastore, @datastore_version, @flavor_id, @volume_size_gb,
           @restored_from_backup_id, @cluster_id, @cluster_role, @configuration_id, @now, @now)`,
      )
      .run({ cluster_id: null, cluster_role: '', configuration_id: null, ...i, now });
  }

  /** An instance visible to the scope (undefined for another project's). */
  get(id: string, scope?: Scope): InstanceRow | undefined {
    const w = scope ? scopeWhere(scope) : { sql: '1 = 1', params: [] };
    return this.db.prepare(`SELECT * FROM instances WHERE id = ? AND deleted_at IS NULL AND ${w.sql}`).get(id, ...w.params) as InstanceRow | undefined;
  }

  /** A page in id order, after `afterId`. */
  list(scope: Scope, limit: number, afterId: string): InstanceRow[] {
    const w = scopeWhere(scope);
    return this.db
      .prepare(`SELECT * FROM instances WHERE deleted_at IS NULL AND ${w.sql} AND id > ? ORDER BY id LIMIT ?`)
      .all(...w.params, afterId, limit) as InstanceRow[];
  }

  /** Every live instance (the driver re-adopts them at start). */
  all(): InstanceRow[] {
    return this.db.prepare('SELECT * FROM instances WHERE deleted_at IS NULL').all() as InstanceRow[];
  }

  update(id: string, patch: Partial<Pick<InstanceRow, 'status' | 'task_id' | 'compute' | 'host' | 'port' | 'agent_port' | 'volume_size_gb' | 'replica_of' | 'auto_failover' | 'fenced' | 'cluster_id' | 'cluster_role' | 'backup_key_id' | 'configuration_id' | 'restart_required' | 'config_state' | 'config_message'>>, now = Date.now()): void {
    const keys = Object.keys(patch);
    if (!keys.length) return;
    const set = keys.map((k) => `${k} = @${k}`).join(', ');
    this.db.prepare(`UPDATE instances SET ${set}, updated_at = @now WHERE id = @id`).run({ ...patch, id, now });
  }

  /** The live replicas of a source, in id order. */
  replicasOf(sourceId: string): InstanceRow[] {
    return this.db.prepare('SELECT * FROM instances WHERE replica_of = ? AND deleted_at IS NULL ORDER BY id').all(sourceId) as InstanceRow[];
  }

  markDeleted(id: string, now = Date.now()): void {
    this.db.prepare('UPDATE instances SET deleted_at = ?, updated_at = ?, task_id = NULL WHERE id = ?').run(now, now, id);
  }

  addFault(id: string, step: string, message: string, now = Date.now()): void {
    this.db.prepare('INSERT INTO instance_faults (instance_id, step, message, created_at) VALUES (?, ?, ?, ?)').run(id, step, message, now);
  }

  latestFault(id: string): FaultRow | undefined {
    return this.db
      .prepare('SELECT step, message, created_at FROM instance_faults WHERE instance_id = ? ORDER BY created_at DESC, rowid DESC LIMIT 1')
      .get(id) as FaultRow | undefined;
  }

  heartbeat(id: string): HeartbeatRow | undefined {
    return this.db.prepare('SELECT * FROM instance_heartbeats WHERE instance_id = ?').get(id) as HeartbeatRow | undefined;
  }

  /** The live instances a configuration group is attached to, in id order (a page after `afterId`). */
  withConfiguration(configurationId: string, limit = -1, afterId = ''): InstanceRow[] {
    return this.db
      .prepare('SELECT * FROM instances WHERE configuration_id = ? AND deleted_at IS NULL AND id > ? ORDER BY id LIMIT ?')
      .all(configurationId, afterId, limit) as InstanceRow[];
  }

  /** The live members of a cluster, in creation order. */
  clusterMembers(clusterId: string): InstanceRow[] {
    return this.db.prepare('SELECT * FROM instances WHERE cluster_id = ? AND deleted_at IS NULL ORDER BY created_at, rowid').all(clusterId) as InstanceRow[];
  }

  /**
   * Ports already given to live instances, so the driver does not hand them
   * out twice: the client and agent ports, and a cluster member's cluster
   * ports (kept in its allocation).
   */
  usedPorts(): Set<number> {
    const rows = this.db.prepare('SELECT port, agent_port, compute FROM instances WHERE deleted_at IS NULL').all() as Array<{ port: number; agent_port: number; compute: string | null }>;
    return new Set(rows.flatMap((r) => [r.port, r.agent_port, ...clusterPortsOf(r.compute)]).filter((p) => p > 0));
  }
}

/** The cluster ports recorded in an allocation's JSON (none for a standalone). */
function clusterPortsOf(compute: string | null): number[] {
  if (!compute) return [];
  const ports = (JSON.parse(compute) as { clusterPorts?: Record<string, number> }).clusterPorts;
  return ports ? Object.values(ports) : [];
}
