// The names and inputs replication takes: a replica's slot, named from its
// instance id, and the source a replica follows, checked before any of it
// reaches a configuration file or a connection string.
import { invalid } from '../../../errors.js';
import type { SourceInfo } from '../../../../proto/gen/coffer/agent/v1/replication_state.js';
import { REPLICATION_ROLE } from '../constants.js';
import { checkPassword } from '../names.js';

const show = (v: string): string => JSON.stringify(v.slice(0, 64));

/** The 32 hex digits of a replica's id (a UUID, with or without hyphens). */
function idHex(replicaId: string): string {
  const hex = replicaId.replace(/-/g, '').toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(hex) || !/^[0-9A-Fa-f-]+$/.test(replicaId)) throw invalid(`replica_id ${show(replicaId)} is not an instance id (a UUID)`);
  return hex;
}

/** The physical slot of a replica on its source: coffer_<32 hex of the replica id>. */
export function slotName(replicaId: string): string {
  return `coffer_${idHex(replicaId)}`;
}

export const SLOT_PATTERN = /^coffer_[0-9a-f]{32}$/;

export interface CheckedSource {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly slot: string;
  readonly instanceId: string;
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV6 = /^[0-9A-Fa-f:.]{2,45}$/;

/** A source a standby can follow; every field is checked, each error names its field. */
export function checkSource(source: SourceInfo | undefined): CheckedSource {
  if (!source) throw invalid('source is required');
  const host = source.host ?? '';
  if (!host) throw invalid('source.host is empty');
  if (!HOSTNAME.test(host) && !(host.includes(':') && IPV6.test(host))) throw invalid(`source.host ${show(host)} is not a host name or an IP address`);
  const port = source.port;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid(`source.port ${port} is not a port (1-65535)`);
  const user = source.replicationUser || REPLICATION_ROLE;
  if (user !== REPLICATION_ROLE) throw invalid(`source.replication_user ${show(user)}: PostgreSQL replicas connect as ${REPLICATION_ROLE}`);
  checkPassword(source.replicationPassword ?? '', 'source.replication_password');
  const slot = source.slotName ?? '';
  if (!SLOT_PATTERN.test(slot)) throw invalid(`source.slot_name ${show(slot)} is not a replica's slot (coffer_ and 32 hex digits)`);
  const instanceId = source.instanceId ?? '';
  if (instanceId && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(instanceId)) throw invalid(`source.instance_id ${show(instanceId)} is not an instance id`);
  return { host, port, user, password: source.replicationPassword, slot, instanceId };
}
