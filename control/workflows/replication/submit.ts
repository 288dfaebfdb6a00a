// The replication operations as the service layer starts them: each records
// its task and the records it changes in one transaction (either both exist
// or neither). They assume the request was validated by the service layer
// (control/service/): which instance may be promoted, ejected or detached,
// and the error a caller sees, are decided there.
import { randomUUID } from 'node:crypto';
import type { ControlContext } from '../../context.js';
import { conflict, invalid } from '../../errors.js';
import type { InstanceRow, InstanceStatus } from '../../store/instances.js';
import type { Caller } from '../../service/caller.js';
import type { CreateData } from '../create.js';
import type { CreateReplicasData } from './create-replicas.js';
import type { SwitchoverData } from './switchover.js';
import type { EjectData } from './eject.js';
import type { DetachData } from './detach.js';
import type { RejoinData } from './rejoin.js';
import { traitsOf } from './datastores.js';

export interface CreateReplicasInput {
  source: InstanceRow;
  /** One name per replica (the service layer adds the -1, -2 suffixes). */
  names: string[];
  /** The set's automatic failover; undefined: the control's default (--auto-failover). */
  autoFailover?: boolean;
}

/**
 * Inserts the replica rows (BUILD, the source's datastore, version, flavor
 * and volume, replica_of set), the snapshot's backup record (where the
 * datastore's replicas are built from one: traits' `snapshot`) and the
 * create-replicas task. The task's resource is the first replica.
 */
export function submitCreateReplicas(c: ControlContext, caller: Caller, input: CreateReplicasInput): { replicas: InstanceRow[]; taskId: string } {
  const { source, names } = input;
  if (names.length < 1 || names.length > 3) throw invalid('replica_count must be 1 to 3');
  const v = c.catalog.version(source.datastore, source.datastore_version);
  const flavor = c.catalog.flavor(source.flavor_id);
  if (!v || !flavor) throw conflict(`instance ${source.id}'s datastore version or flavor is no longer in the catalog`);
  const project = source.project;
  const ids = names.map(() => randomUUID());
  // A datastore whose replicas clone their source records no snapshot backup.
  const snapshotId = traitsOf(c, source).snapshot === 'backup' ? randomUUID() : undefined;
  const builds: CreateData[] = ids.map((id) => ({
    instanceId: id,
    manager: v.manager,
    managerVersion: v.manager_version,
    resources: { vcpus: flavor.vcpus, ramMb: flavor.ram_mb, volumeGb: source.volume_size_gb },
    prepare: { rootPassword: '', databases: [], users: [], overrides: {} },
    restore: null,
  }));
  const data: CreateReplicasData = { sourceId: source.id, ...(snapshotId ? { snapshotBackupId: snapshotId } : {}), builds, built: [] };
  const autoFailover = input.autoFailover ?? c.config.autoFailoverDefault;
  const taskId = c.engine.submit('create-replicas', caller.project || project, ids[0]!, data, (tid) => {
    ids.forEach((id, i) => {
      c.instances.insert({ id, project, name: names[i]!, datastore: source.datastore, datastore_version: source.datastore_version, flavor_id: source.flavor_id, volume_size_gb: source.volume_size_gb, restored_from_backup_id: null });
      c.instances.update(id, { task_id: tid, replica_of: source.id });
    });
    if (snapshotId) {
      c.backups.insert({ id: snapshotId, project, instance_id: source.id, name: `replica snapshot for ${names.join(', ')}`, kind: 'FULL', parent_id: null, datastore: source.datastore, datastore_version: source.datastore_version });
      c.backups.update(snapshotId, { task_id: tid });
    }
    // The flag lives on the source's row: the first replicas set it; later
    // ones may only turn it on.
    const first = c.instances.replicasOf(source.id).length === ids.length;
    if (first || autoFailover) c.instances.update(source.id, { auto_failover: autoFailover ? 1 : 0 });
  });
  for (const id of [source.id, ...ids]) c.events.emit('instance', id);
  return { replicas: ids.map((id) => c.instances.get(id)!), taskId };
}

/** The members of a source's set: the source and its live replicas. */
function setOf(c: ControlContext, sourceId: string): InstanceRow[] {
  const s = c.instances.get(sourceId);
  return [...(s ? [s] : []), ...c.instances.replicasOf(sourceId)];
}

/** Marks every member (a status for the live ones; a fenced member keeps its own) and checks none runs a task. */
function claim(c: ControlContext, members: readonly InstanceRow[], status: InstanceStatus, taskId: string): void {
  for (const m of members) {
    const now = c.instances.get(m.id);
    if (!now) continue;
    if (now.task_id) throw conflict(`instance ${m.id} (${now.name}) has task ${now.task_id} running; wait for it to end`);
    c.instances.update(m.id, now.fenced ? { task_id: taskId } : { status, task_id: taskId });
  }
}

/** Planned switchover: `replica` becomes the source of its set (status PROMOTE on every member while it runs). */
export function submitSwitchover(c: ControlContext, replica: InstanceRow): string {
  if (!replica.replica_of) throw invalid(`instance ${replica.id} is not a replica`);
  const members = setOf(c, replica.replica_of);
  const data: SwitchoverData = { sourceId: replica.replica_of, candidateId: replica.id, otherIds: members.filter((m) => m.id !== replica.id && m.id !== replica.replica_of && !m.fenced).map((m) => m.id) };
  const id = c.engine.submit('switchover', replica.project, replica.id, data, (tid) => claim(c, members, 'PROMOTE', tid));
  for (const m of members) c.events.emit('instance', m.id);
  return id;
}

/**
 * The source is gone: its most advanced replica takes over. The source is
 * fenced at once (in this transaction), so an agent that comes back while
 * the eject runs is told it is no longer the source.
 */
export function submitEject(c: ControlContext, source: InstanceRow): string {
  const members = setOf(c, source.id);
  const data: EjectData = { sourceId: source.id, replicaIds: members.filter((m) => m.id !== source.id && !m.fenced).map((m) => m.id) };
  const id = c.engine.submit('eject', source.project, source.id, data, (tid) => {
    claim(c, members, 'EJECT', tid);
    c.instances.update(source.id, { fenced: 1, status: 'EJECT' });
  });
  for (const m of members) c.events.emit('instance', m.id);
  return id;
}

/** The replica stops following: standalone and writable (status DETACH, then ACTIVE). */
export function submitDetach(c: ControlContext, replica: InstanceRow): string {
  if (!replica.replica_of) throw invalid(`instance ${replica.id} is not a replica`);
  const data: DetachData = { replicaId: replica.id, sourceId: replica.replica_of };
  const id = c.engine.submit('detach', replica.project, replica.id, data, (tid) => claim(c, [replica], 'DETACH', tid));
  c.events.emit('instance', replica.id);
  return id;
}

/**
 * A fenced former source whose agent reports in rejoins as a replica of
 * the source its record names (the conductor starts this). Undefined when
 * it cannot start now: a task runs on it or on that source, or none is named.
 */
/** Where `sourceId` took over from `instanceId`, from the newest eject or switchover that says so. */
function takeoverPoint(c: ControlContext, instanceId: string, sourceId: string): { position?: string } {
  const rows = c.db
    .prepare("SELECT kind, data FROM tasks WHERE kind IN ('eject', 'switchover') AND resource_id IN (?, ?) ORDER BY created_at DESC LIMIT 5")
    .all(instanceId, sourceId) as Array<{ kind: string; data: string }>;
  for (const row of rows) {
    const d = JSON.parse(row.data) as Partial<EjectData & SwitchoverData>;
    const took = row.kind === 'eject' ? d.newSourceId : d.candidateId;
    if (d.sourceId === instanceId && took === sourceId && d.promotedAt) return { position: d.promotedAt };
  }
  return {};
}

export function submitRejoin(c: ControlContext, instanceId: string): string | undefined {
  return c.db.transaction(() => {
    const r = c.instances.get(instanceId);
    if (!r || !r.fenced || r.task_id || !r.replica_of) return undefined;
    const source = c.instances.get(r.replica_of);
    if (!source || source.task_id || source.replica_of || source.status !== 'ACTIVE') return undefined;
    const data: RejoinData = { instanceId: r.id, sourceId: source.id, ...takeoverPoint(c, r.id, source.id) };
    return c.engine.submit('rejoin', r.project, r.id, data, (tid) => c.instances.update(r.id, { task_id: tid }));
  })();
}

