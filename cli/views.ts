// API messages as a person reads them (table rows, fields) and as a script
// reads them (JSON: the proto3 JSON field names, every field present, enums
// by their short name: "ACTIVE" rather than "INSTANCE_STATUS_ACTIVE").
import { instanceStatusToJSON, type Instance, type ReplicaRef } from '../proto/gen/coffer/control/v1/instances.js';
import { backupKindToJSON, backupStatusToJSON, type Backup } from '../proto/gen/coffer/control/v1/backups.js';
import { taskStateToJSON, type Task } from '../proto/gen/coffer/control/v1/tasks.js';
import { datastoreStateToJSON } from '../proto/gen/coffer/agent/v1/lifecycle.js';
import type { Fault } from '../proto/gen/coffer/control/v1/common.js';
import { clusterTaskToJSON, type Cluster } from '../proto/gen/coffer/control/v1/clusters.js';

const short = (name: string, prefix: string): string => (name.startsWith(prefix) ? name.slice(prefix.length) : name);

export const instanceStatus = (i: Instance): string => short(instanceStatusToJSON(i.status), 'INSTANCE_STATUS_');
export const backupStatus = (b: Backup): string => short(backupStatusToJSON(b.status), 'BACKUP_STATUS_');
export const taskState = (t: Task): string => short(taskStateToJSON(t.state), 'TASK_STATE_');

export function time(ms: number): string {
  return ms > 0 ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z') : '';
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

const faultText = (f: Fault | undefined): string => (f ? `${f.step}: ${f.message}` : '');

const refStatus = (r: ReplicaRef): string => short(instanceStatusToJSON(r.status), 'INSTANCE_STATUS_');
const refJson = (r: ReplicaRef): Record<string, unknown> => ({ ...r, status: refStatus(r) });

export function instanceJson(i: Instance): Record<string, unknown> {
  return {
    ...i,
    status: instanceStatus(i),
    replicaOf: i.replicaOf ? refJson(i.replicaOf) : null,
    replicas: i.replicas.map(refJson),
    datastoreState: short(datastoreStateToJSON(i.datastoreState), 'DATASTORE_STATE_'),
    fault: i.fault ?? null,
  };
}

export const address = (i: Instance): string => (i.port ? `${i.host}:${i.port}` : '');

function agentText(i: Instance): string {
  if (!i.agentLastSeenMs) return 'not heard yet';
  return i.agentReachable ? 'reachable' : `unreachable since ${time(i.agentLastSeenMs)}`;
}

/**
 * How far a replica is behind: seconds as the datastore computes them, and
 * the positions it has not applied (bytes of WAL or offset; transactions
 * for the MySQL family), or "unknown" when its agent does not say.
 */
export function lagText(seconds: number, positions: number, datastore: string): string {
  if (seconds < 0 && positions < 0) return 'unknown';
  const unit = datastore === 'mariadb' || datastore === 'mysql' ? 'transactions' : 'bytes';
  const parts = [seconds >= 0 ? `${Number(seconds.toFixed(1))} s behind` : 'seconds unknown', ...(positions >= 0 ? [`${positions} ${unit}`] : [])];
  return parts.join(', ');
}

/** standalone, "source of 2", or "replica of NAME". */
export function roleText(i: Instance): string {
  if (i.role === 'replica') return `replica of ${i.replicaOf?.name || i.replicaOf?.id || '?'}`;
  if (i.role === 'source') return `source of ${i.replicas.length}`;
  return i.role || 'standalone';
}

export const INSTANCE_HEADERS = ['ID', 'NAME', 'STATUS', 'DATASTORE', 'ADDRESS', 'ROLE', 'AGENT'] as const;

export function instanceRow(i: Instance): string[] {
  return [i.id, i.name, instanceStatus(i), `${i.datastore} ${i.datastoreVersion}`, address(i), roleText(i), agentText(i)];
}

function replicationFields(i: Instance): Array<[string, string]> {
  if (i.role === 'replica') {
    const s = i.replicaOf;
    return [
      ['role', 'replica'],
      ['source', s ? (s.name ? `${s.name} (${s.id})` : s.id) : ''],
      ['lag', lagText(i.lagSeconds, i.lagBytes, i.datastore)],
      ['auto failover', i.autoFailover ? 'on' : 'off'],
    ];
  }
  if (i.role === 'source') {
    // One line per replica; the key only on the first.
    const lines = i.replicas.map((r, n): [string, string] => [n === 0 ? 'replicas' : '', `${r.name} (${r.id}) ${refStatus(r)}, lag ${lagText(r.lagSeconds, r.lagBytes, i.datastore)}`]);
    return [['role', 'source'], ...lines, ['auto failover', i.autoFailover ? 'on' : 'off']];
  }
  return [['role', i.role || 'standalone']];
}

/**
 * Point-in-time recovery (docs/pitr.md), in `instance show` only (GetInstance
 * asks the agent; lists do not): whether the instance archives, and the
 * span it can be restored to (UTC, the form --restore-time takes).
 */
function archiveFields(i: Instance): Array<[string, string]> {
  const a = i.archiving;
  if (!a) return [];
  if (!a.enabled) return [['archiving', 'off']];
  const lag = a.pendingCount > 0 ? `${a.pendingCount} waiting (${bytes(a.pendingBytes)}), ${Number(a.lagSeconds.toFixed(1))} s behind` : 'up to date';
  const w = i.restorableWindow;
  const unit = i.datastore === 'postgresql' ? 'LSN' : 'GTID';
  return [
    ['archiving', `on, ${i.archiveRetentionDays} days kept, ${lag}${a.lastError ? `; last error: ${a.lastError}` : ''}`],
    ['restorable', w && w.latestTimeMs > 0 ? `${time(w.earliestTimeMs)} to ${time(w.latestTimeMs)} (${unit} ${w.earliestPosition} to ${w.latestPosition})` : 'nothing yet (no backup the archive continues from)'],
  ];
}

export function instanceFields(i: Instance): Array<[string, string]> {
  return [
    ['id', i.id],
    ['name', i.name],
    ['project', i.project],
    ['status', instanceStatus(i)],
    ['fault', faultText(i.fault)],
    ['datastore', `${i.datastore} ${i.datastoreVersion}`],
    ['datastore state', i.agentLastSeenMs ? short(datastoreStateToJSON(i.datastoreState), 'DATASTORE_STATE_') : ''],
    ['address', address(i)],
    ['flavor', i.flavorId],
    ['volume', i.volumeSizeGb ? `${i.volumeSizeGb} GB` : ''],
    ['agent', agentText(i)],
    ...replicationFields(i),
    ['task', i.taskId],
    ['restored from', i.restoredFromBackupId],
    ...archiveFields(i),
    ['created', time(i.createdAtMs)],
    ['updated', time(i.updatedAtMs)],
  ];
}

export function backupJson(b: Backup): Record<string, unknown> {
  return { ...b, status: backupStatus(b), kind: short(backupKindToJSON(b.kind), 'BACKUP_KIND_'), fault: b.fault ?? null };
}

export const BACKUP_HEADERS = ['ID', 'NAME', 'INSTANCE', 'STATUS', 'KIND', 'SIZE', 'CREATED'] as const;

export function backupRow(b: Backup): string[] {
  return [b.id, b.name, b.instanceId, backupStatus(b), short(backupKindToJSON(b.kind), 'BACKUP_KIND_'), b.sizeBytes ? bytes(b.sizeBytes) : '', time(b.createdAtMs)];
}

export function backupFields(b: Backup): Array<[string, string]> {
  return [
    ['id', b.id],
    ['name', b.name],
    ['instance', b.instanceId],
    ['status', backupStatus(b)],
    ['fault', faultText(b.fault)],
    ['kind', short(backupKindToJSON(b.kind), 'BACKUP_KIND_')],
    ['parent', b.parentId],
    ['datastore', `${b.datastore} ${b.datastoreVersion}`],
    ['size', b.sizeBytes ? bytes(b.sizeBytes) : ''],
    ['storage', b.storage],
    ['location', b.location],
    ['checksum', b.checksum],
    ['task', b.taskId],
    ['created', time(b.createdAtMs)],
    ['updated', time(b.updatedAtMs)],
  ];
}

export function taskJson(t: Task): Record<string, unknown> {
  return { ...t, state: taskState(t) };
}

export const clusterTask = (c: Cluster): string => short(clusterTaskToJSON(c.task), 'CLUSTER_TASK_');

export function clusterJson(c: Cluster): Record<string, unknown> {
  return { ...c, task: clusterTask(c), fault: c.fault ?? null, instances: c.instances.map(instanceJson) };
}

/** "3 ACTIVE", "2 ACTIVE, 1 BUILD": the members by status. */
export function membersText(c: Cluster): string {
  const counts = new Map<string, number>();
  for (const i of c.instances) counts.set(instanceStatus(i), (counts.get(instanceStatus(i)) ?? 0) + 1);
  return [...counts].map(([s, n]) => `${n} ${s}`).join(', ');
}

export const CLUSTER_HEADERS = ['ID', 'NAME', 'DATASTORE', 'TASK', 'MEMBERS'] as const;

export function clusterRow(c: Cluster): string[] {
  return [c.id, c.name, `${c.datastore} ${c.datastoreVersion}`, clusterTask(c), membersText(c)];
}

export function clusterFields(c: Cluster): Array<[string, string]> {
  // One line per member; the key only on the first.
  // A Redis Cluster member's role as Redis reports it now (a replica that took over shows master).
  const members = c.instances.map((i, n): [string, string] => [n === 0 ? 'members' : '', `${i.name} (${i.id}) ${i.clusterRole ? `${i.clusterRole} ` : ''}${instanceStatus(i)} ${address(i)}`.trimEnd()]);
  return [
    ['id', c.id],
    ['name', c.name],
    ['project', c.project],
    ['datastore', `${c.datastore} ${c.datastoreVersion}`],
    ['strategy', c.strategy],
    ['task', clusterTask(c)],
    ['task id', c.taskId],
    ['fault', faultText(c.fault)],
    ['configuration', c.configurationId],
    ...members,
    ['created', time(c.createdAtMs)],
    ['updated', time(c.updatedAtMs)],
  ];
}
