// How a replica reaches its source: the address of the source's instance
// record, the account the source's agent named, and the secret derived
// again here (never read from task data).
import type { SourceInfo } from '../../../proto/gen/coffer/agent/v1/replication_state.js';
import type { ControlContext } from '../../context.js';
import type { InstanceRow } from '../../store/instances.js';
import { replicaSecret } from './datastores.js';

/** What a source's agent said about one replica's access (no secret: kept in task data). */
export interface AccessInfo {
  replicaId: string;
  user: string;
  slot: string;
  /** Where the replica starts (the snapshot's end); '' to continue from its own position. */
  position: string;
}

export function accessOf(replicaId: string, s: SourceInfo | undefined): AccessInfo {
  return { replicaId, user: s?.replicationUser ?? '', slot: s?.slotName ?? '', position: s?.position ?? '' };
}

export function sourceInfo(c: ControlContext, source: InstanceRow, access: AccessInfo): SourceInfo {
  return {
    host: source.host,
    port: source.port,
    replicationUser: access.user,
    replicationPassword: replicaSecret(c, source, access.replicaId),
    position: access.position,
    instanceId: source.id,
    slotName: access.slot,
  };
}
