// An instance's place in its replication set, as both APIs show it: its
// role (from the control's records, which are the authority on who follows
// whom), its source or its replicas, and each replica's lag (from the
// replica's own last heartbeat, `instance_heartbeats.replication`, the JSON
// of the agent's ReplicationStatus). gRPC (api/convert.ts) and REST
// (rest/views.ts) both read it here, so they agree.
import { ReplicationStatus } from '../../proto/gen/coffer/agent/v1/replication_state.js';
import type { InstanceRow, InstanceStore } from '../store/instances.js';
import { agentLiveness } from './agent-liveness.js';

/**
 * - standalone: neither follows nor is followed.
 * - source: the writable member of a set with at least one replica.
 * - replica: follows `source`.
 */
export type Role = 'standalone' | 'source' | 'replica';

/** How far a replica is behind its source; -1 where unknown. */
export interface Lag {
  readonly bytes: number;
  readonly seconds: number;
}

export const UNKNOWN_LAG: Lag = Object.freeze({ bytes: -1, seconds: -1 });

/** Whether a replica receives from its source, and the datastore's last replication error; null/'' while unknown. */
export interface Streaming {
  readonly streaming: boolean | null;
  readonly lastError: string;
}

export const UNKNOWN_STREAMING: Streaming = Object.freeze({ streaming: null, lastError: '' });

export interface ReplicaEntry {
  readonly row: InstanceRow;
  readonly lag: Lag;
}

export interface ReplicationView {
  readonly role: Role;
  /** For a replica: its source's record (undefined if that is gone). */
  readonly source: InstanceRow | undefined;
  /** For a replica: its source's id, even when the record is gone. */
  readonly sourceId: string;
  /** For a source: its replicas, in id order. */
  readonly replicas: readonly ReplicaEntry[];
  /** For a replica: its own lag. */
  readonly lag: Lag;
  /** For a replica: whether it streams from its source, as its agent last said. */
  readonly streaming: Streaming;
  /** Whether the control ejects this set's source on its own (kept on the source's row). */
  readonly autoFailover: boolean;
}

/** The agent's last ReplicationStatus, or undefined when it sent none (or it does not parse). */
export function reportedReplication(instances: Pick<InstanceStore, 'heartbeat'>, id: string): ReplicationStatus | undefined {
  const text = instances.heartbeat(id)?.replication;
  if (!text) return undefined;
  try {
    return ReplicationStatus.fromJSON(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/**
 * A replica's lag from its own last report. Unknown when the agent is not
 * heard any more (a stale figure would look like a healthy replica) or
 * when it does not report itself as a replica (still building, detached).
 */
export function lagOf(instances: Pick<InstanceStore, 'heartbeat'>, id: string, expiryMs: number, now = Date.now()): Lag {
  if (!agentLiveness(instances, id, expiryMs, now).reachable) return UNKNOWN_LAG;
  const s = reportedReplication(instances, id);
  if (!s || s.role !== 'replica') return UNKNOWN_LAG;
  const num = (n: number): number => (Number.isFinite(n) && n >= 0 ? n : -1);
  return { bytes: num(s.lagBytes), seconds: num(s.lagSeconds) };
}

/** A replica's streaming state from its own last report (unknown when its agent is not heard). */
export function streamingOf(instances: Pick<InstanceStore, 'heartbeat'>, id: string, expiryMs: number, now = Date.now()): Streaming {
  if (!agentLiveness(instances, id, expiryMs, now).reachable) return UNKNOWN_STREAMING;
  const s = reportedReplication(instances, id);
  if (!s || s.role !== 'replica') return UNKNOWN_STREAMING;
  return { streaming: s.streaming, lastError: s.lastError };
}

export function replicationOf(instances: InstanceStore, r: InstanceRow, expiryMs: number, now = Date.now()): ReplicationView {
  if (r.replica_of) {
    const source = instances.get(r.replica_of);
    return {
      role: 'replica',
      source,
      sourceId: r.replica_of,
      replicas: [],
      lag: lagOf(instances, r.id, expiryMs, now),
      streaming: streamingOf(instances, r.id, expiryMs, now),
      autoFailover: source?.auto_failover === 1,
    };
  }
  const replicas = instances.replicasOf(r.id).map((row) => ({ row, lag: lagOf(instances, row.id, expiryMs, now) }));
  return {
    role: replicas.length ? 'source' : 'standalone',
    source: undefined,
    sourceId: '',
    replicas,
    lag: UNKNOWN_LAG,
    streaming: UNKNOWN_STREAMING,
    autoFailover: r.auto_failover === 1,
  };
}
