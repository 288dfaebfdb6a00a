// ReplicationStatus as GetStatus, GetReplicationStatus and every heartbeat
// report it: the role, the source followed and the fence from the role
// store; lag, position and stream state from the datastore when it runs.
// A datastore without the capability is a standalone with dialect ''.
import type { ReplicationStatus } from '../../proto/gen/coffer/agent/v1/replication_state.js';
import type { ReplicationCapability } from '../managers/manager.js';
import type { ReplicationRole } from './role-store.js';

/** A datastore that does not answer must not hold up a heartbeat (the lease's renewal rides on it). */
const STATUS_TIMEOUT_MS = 3000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export function baseStatus(r: Readonly<ReplicationRole>): ReplicationStatus {
  return {
    role: r.role,
    sourceInstanceId: r.source?.instanceId ?? '',
    sourceHost: r.source?.host ?? '',
    sourcePort: r.source?.port ?? 0,
    lagBytes: -1,
    lagSeconds: -1,
    position: '',
    streaming: false,
    lastError: '',
    dialect: '',
    fenced: r.role === 'source' && r.fenced !== null,
    replicas: [],
    slots: [],
  };
}

export async function replicationStatus(r: Readonly<ReplicationRole>, cap: ReplicationCapability | undefined, running: boolean): Promise<ReplicationStatus> {
  const base = baseStatus(r);
  if (!cap) return base;
  if (!running) return { ...base, dialect: await cap.dialect().catch(() => '') };
  try {
    const s = await withTimeout(cap.status(), STATUS_TIMEOUT_MS);
    return {
      ...base,
      ...s,
      // What the agent was told wins over what the datastore says it follows.
      role: base.role,
      fenced: base.fenced,
      sourceInstanceId: base.sourceInstanceId || s.sourceInstanceId,
      sourceHost: base.sourceHost || s.sourceHost,
      sourcePort: base.sourcePort || s.sourcePort,
    };
  } catch (err) {
    return { ...base, dialect: await cap.dialect().catch(() => ''), lastError: `could not read the replication status: ${(err as Error).message}` };
  }
}
