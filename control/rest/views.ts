// Records to Trove's v1.0 JSON shapes (what python-troveclient reads).
// Coffer's ids for datastores and their versions are the names; Trove's are
// UUIDs, so a stable UUID-shaped id is derived from each name too, and both
// are accepted wherever an id is.
import { createHash } from 'node:crypto';
import { DatastoreState } from '../../proto/gen/coffer/agent/v1/lifecycle.js';
import type { Database, User } from '../../proto/gen/coffer/agent/v1/common.js';
import type { ControlContext } from '../context.js';
import type { BackupRow } from '../store/backups.js';
import { CLUSTER_TASK_DESCRIPTIONS, CLUSTER_TASK_IDS, type ClusterRow } from '../store/clusters.js';
import type { FlavorRow, VersionRow } from '../store/catalog.js';
import type { InstanceRow, InstanceStatus } from '../store/instances.js';
import type { DatastoreView } from '../service/catalog.js';
import type { ClusterView } from '../service/clusters.js';
import { agentLiveness } from '../service/agent-liveness.js';
import { replicationOf, type Lag } from '../service/replication-view.js';
import { memberRole } from '../service/cluster-role.js';
import type { ArchiveStatus, RestorableWindow } from '../../proto/gen/coffer/agent/v1/archive.js';

/** Trove shows a deleting instance as SHUTDOWN; the rest are the same names. */
const INSTANCE_STATUS: Readonly<Record<InstanceStatus, string>> = {
  BUILD: 'BUILD',
  ACTIVE: 'ACTIVE',
  ERROR: 'ERROR',
  REBOOT: 'REBOOT',
  RESIZE: 'RESIZE',
  BACKUP: 'BACKUP',
  DELETING: 'SHUTDOWN',
  SHUTDOWN: 'SHUTDOWN',
  PROMOTE: 'PROMOTE',
  EJECT: 'EJECT',
  DETACH: 'DETACH',
};

/** Trove's operating_status, from the agent's last heartbeat. */
const OPERATING_STATUS: Partial<Record<DatastoreState, string>> = {
  [DatastoreState.DATASTORE_STATE_NEW]: 'NEW',
  [DatastoreState.DATASTORE_STATE_BUILDING]: 'BUILDING',
  [DatastoreState.DATASTORE_STATE_ACTIVE]: 'HEALTHY',
  [DatastoreState.DATASTORE_STATE_SHUTDOWN]: 'SHUTDOWN',
  [DatastoreState.DATASTORE_STATE_CRASHED]: 'CRASHED',
  [DatastoreState.DATASTORE_STATE_RESTART_REQUIRED]: 'RESTART_REQUIRED',
  [DatastoreState.DATASTORE_STATE_FAILED]: 'FAILED',
  [DatastoreState.DATASTORE_STATE_STARTING]: 'STARTING',
  [DatastoreState.DATASTORE_STATE_STOPPING]: 'STOPPING',
};

/** Trove's timestamp format: ISO 8601 to the second, no zone (UTC). */
export const time = (ms: number): string => new Date(ms).toISOString().slice(0, 19);

/** A UUID-shaped id derived from a name (stable across restarts). */
export function nameId(kind: string, name: string): string {
  const h = createHash('sha1').update(`coffer:${kind}:${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export const versionId = (datastore: string, version: string): string => nameId('datastore-version', `${datastore}:${version}`);

export interface Links {
  /** http://host:port/v1.0/<project> */
  readonly base: string;
}

const link = (href: string) => [{ href, rel: 'self' }, { href, rel: 'bookmark' }];

export function instanceView(c: ControlContext, r: InstanceRow, l: Links, detail = true): Record<string, unknown> {
  const { heartbeat: hb, reachable } = agentLiveness(c.instances, r.id, c.config.heartbeatExpiryMs);
  const v: Record<string, unknown> = {
    id: r.id,
    name: r.name,
    // Trove's RESTART_REQUIRED: configuration values wait for a restart.
    status: r.status === 'ACTIVE' && r.restart_required ? 'RESTART_REQUIRED' : INSTANCE_STATUS[r.status],
    operating_status: hb ? (reachable ? (OPERATING_STATUS[hb.datastore_state as DatastoreState] ?? 'UNKNOWN') : 'UNKNOWN') : '',
    links: link(`${l.base}/instances/${r.id}`),
    flavor: { id: r.flavor_id, links: link(`${l.base}/flavors/${r.flavor_id}`) },
    datastore: { type: r.datastore, version: r.datastore_version, version_number: r.datastore_version },
    volume: { size: r.volume_size_gb },
    region: 'local',
    tenant_id: r.project,
  };
  if (r.host) {
    v.ip = [r.host];
    v.addresses = [{ address: r.host, type: 'private' }];
  }
  // Trove's: a member of a cluster names it.
  if (r.cluster_id) v.cluster_id = r.cluster_id;
  // Trove's: the attached configuration group (the CLI shows its id).
  if (r.configuration_id) {
    const g = c.configurations.get(r.configuration_id);
    v.configuration = { id: r.configuration_id, name: g?.name ?? '', links: link(`${l.base}/configurations/${r.configuration_id}`) };
  }
  Object.assign(v, replicationFields(c, r, l));
  if (!detail) return v;
  // Not in Trove (its datastores always listen on the default port); the
  // local driver gives each instance its own.
  v.port = r.port || null;
  v.created = time(r.created_at);
  v.updated = time(r.updated_at);
  v.service_status_updated = hb ? time(hb.received_at) : time(r.updated_at);
  if (r.restored_from_backup_id) v.restored_from_backup_id = r.restored_from_backup_id;
  if (r.status === 'ERROR') {
    const f = c.instances.latestFault(r.id);
    if (f) v.fault = { message: f.message, created: time(f.created_at), details: `step ${f.step}` };
  }
  return v;
}

/** A restorable point: UTC, ISO 8601 to the second, with its zone (what restorePoint.restoreTime takes). */
const point = (ms: number): string | null => (ms > 0 ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z') : null);

/**
 * Coffer's own point-in-time recovery fields (issue 18, docs/pitr.md), in
 * the single instance's view only: `archiving` as its agent reports it and
 * `restorable_window` (null while nothing is restorable: no backup the
 * archive continues from yet). Both are absent when the instance cannot
 * archive or its agent did not answer in time; python-troveclient shows
 * them as extra rows of `instance show`.
 */
export function archiveFields(a: { archiving?: ArchiveStatus; window?: RestorableWindow }): Record<string, unknown> {
  const s = a.archiving;
  if (!s) return {};
  if (!s.enabled) return { archiving: { enabled: false } };
  const w = a.window;
  return {
    archiving: {
      enabled: true,
      retention_days: s.retentionDays,
      archive_timeout_seconds: s.archiveTimeoutSeconds,
      last_archived: s.lastArchived || null,
      last_archived_at: point(s.lastArchivedAtMs),
      pending_count: s.pendingCount,
      pending_bytes: s.pendingBytes,
      lag_seconds: Math.round(s.lagSeconds * 10) / 10,
      last_error: s.lastError || null,
    },
    restorable_window:
      w && w.latestTimeMs > 0
        ? { earliest: point(w.earliestTimeMs), latest: point(w.latestTimeMs), earliest_position: w.earliestPosition, latest_position: w.latestPosition }
        : null,
  };
}

/** -1 (unknown) is null in JSON. */
const lagFields = (lag: Lag): Record<string, number | null> => ({
  lag_seconds: lag.seconds < 0 ? null : lag.seconds,
  lag_bytes: lag.bytes < 0 ? null : lag.bytes,
});

/**
 * Trove's replication fields, in the list view too (python-troveclient's
 * `instance list` derives its Role column from them: "replica" when
 * replica_of is present, "primary" when replicas is), so each is present
 * only when it applies. Coffer adds the lag (seconds and bytes, null when
 * unknown) to the replica's own view and to each entry of its source's
 * `replicas`, and the set's auto_failover.
 */
function replicationFields(c: ControlContext, r: InstanceRow, l: Links): Record<string, unknown> {
  const rep = replicationOf(c.instances, r, c.config.heartbeatExpiryMs);
  const ref = (id: string, name?: string) => ({ id, links: link(`${l.base}/instances/${id}`), ...(name === undefined ? {} : { name }) });
  switch (rep.role) {
    case 'replica':
      return {
        replica_of: ref(rep.sourceId, rep.source?.name),
        ...lagFields(rep.lag),
        // Coffer's own: whether it receives from its source now, and the datastore's last replication error.
        replication_streaming: rep.streaming.streaming,
        ...(rep.streaming.lastError ? { replication_error: rep.streaming.lastError } : {}),
        auto_failover: rep.autoFailover,
      };
    case 'source':
      return {
        replicas: rep.replicas.map((x) => ({ ...ref(x.row.id, x.row.name), status: INSTANCE_STATUS[x.row.status], ...lagFields(x.lag) })),
        auto_failover: rep.autoFailover,
      };
    default:
      return {};
  }
}

/** Trove's backup statuses: NEW, BUILDING, SAVING, COMPLETED, FAILED (DELETING is Coffer's, shown as is). */
export function backupView(b: BackupRow, l: Links): Record<string, unknown> {
  return {
    id: b.id,
    name: b.name,
    description: null,
    status: b.status,
    instance_id: b.instance_id,
    parent_id: b.parent_id,
    project_id: b.project,
    locationRef: b.location || null,
    size: b.size_bytes ? b.size_bytes / 1024 ** 3 : null,
    created: time(b.created_at),
    updated: time(b.updated_at),
    datastore: { type: b.datastore, version: b.datastore_version, version_id: versionId(b.datastore, b.datastore_version) },
    storage_driver: b.storage || null,
    ...(b.status === 'FAILED' && b.fault_message ? { fault: { message: b.fault_message, details: `step ${b.fault_step ?? ''}` } } : {}),
    links: link(`${l.base}/backups/${b.id}`),
  };
}

export function versionView(v: VersionRow, l: Links): Record<string, unknown> {
  const id = versionId(v.datastore, v.name);
  return {
    id,
    name: v.name,
    datastore: nameId('datastore', v.datastore),
    datastore_name: v.datastore,
    version: v.name,
    active: v.active === 1,
    packages: '',
    image: '',
    links: link(`${l.base}/datastores/versions/${id}`),
  };
}

export function datastoreView(d: DatastoreView, l: Links): Record<string, unknown> {
  const id = nameId('datastore', d.name);
  return {
    id,
    name: d.name,
    default_version: versionId(d.name, d.defaultVersion),
    versions: d.versions.map((v) => ({ id: versionId(v.datastore, v.name), name: v.name, version: v.name, active: v.active === 1, links: link(`${l.base}/datastores/versions/${versionId(v.datastore, v.name)}`) })),
    links: link(`${l.base}/datastores/${id}`),
  };
}

export function flavorView(f: FlavorRow, l: Links): Record<string, unknown> {
  return { id: f.id, str_id: f.id, name: f.name, ram: f.ram_mb, vcpus: f.vcpus, disk: null, ephemeral: 0, links: link(`${l.base}/flavors/${f.id}`) };
}

export const databaseView = (d: Database): Record<string, unknown> => ({ name: d.name, ...(d.characterSet ? { character_set: d.characterSet } : {}), ...(d.collation ? { collate: d.collation } : {}) });

export const userView = (u: User): Record<string, unknown> => ({ name: u.name, host: u.host || '%', databases: (u.databases ?? []).map((name) => ({ name })) });

/**
 * A member's type as Trove shows it: Galera's members are all "member";
 * Redis Cluster's are masters or replicas, as Redis last reported them
 * (service/cluster-role.ts: a replica that took over after a failover is a master).
 */
function memberType(c: ControlContext, cluster: ClusterRow, m: InstanceRow): string {
  if (cluster.strategy === 'galera') return 'member';
  return memberRole(c.instances, m) || 'master';
}

/**
 * Trove's cluster view. With `servers` (show), each member carries its
 * status, flavor, volume and ip, and the cluster the ip list of its members
 * (sorted, one entry per member); without (list, create, actions) a member
 * is its id, name, type and links, as in Trove. Coffer adds the last task's
 * fault, when one failed, and each member's port (the local driver gives
 * each its own).
 */
export function clusterView(c: ControlContext, v: ClusterView, l: Links, servers: boolean): Record<string, unknown> {
  const { cluster: r, members } = v;
  const ips: string[] = [];
  const instances = members.map((m) => {
    const o: Record<string, unknown> = { id: m.id, name: m.name, type: memberType(c, r, m), links: link(`${l.base}/instances/${m.id}`) };
    if (!servers) return o;
    o.status = INSTANCE_STATUS[m.status];
    o.flavor = { id: m.flavor_id, links: link(`${l.base}/flavors/${m.flavor_id}`) };
    o.volume = { size: m.volume_size_gb };
    if (m.host) {
      o.ip = [m.host];
      ips.push(m.host);
    }
    o.port = m.port || null;
    return o;
  });
  const out: Record<string, unknown> = {
    id: r.id,
    name: r.name,
    task: { id: CLUSTER_TASK_IDS[r.task], name: r.task, description: CLUSTER_TASK_DESCRIPTIONS[r.task] },
    created: time(r.created_at),
    updated: time(r.updated_at),
    links: link(`${l.base}/clusters/${r.id}`),
    datastore: { type: r.datastore, version: r.datastore_version },
    instances,
  };
  if (ips.length) out.ip = ips.sort();
  // Trove's: the group the cluster's members carry.
  const group = members.find((m) => m.configuration_id)?.configuration_id;
  if (group) out.configuration = group;
  if (r.fault_message) out.fault = { message: r.fault_message, details: `step ${r.fault_step ?? ''}` };
  return out;
}
