// The checks every replication request gets before anything changes, each
// refusal naming the field and what would be accepted.
import { invalid } from '../errors.js';
import type { ReplicaAccess } from '../../proto/gen/coffer/agent/v1/replication.js';
import type { SourceInfo } from '../../proto/gen/coffer/agent/v1/replication_state.js';
import { CLONE_COMPRESSIONS, MAX_CLONE_TTL_SECONDS, TICKET_PATTERN } from './clone-wire.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Instance ids as the agent's own config accepts them. */
const INSTANCE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
/** A host name or an IP address: no spaces, quotes or control characters (it reaches config files). */
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[?[0-9A-Fa-f:.]{2,45}\]?)$/;
export const MAX_SECRET = 128;

export function show(value: string): string {
  return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
}

export function checkReplicaId(id: string, what = 'replica_id'): void {
  if (!id) throw invalid(`${what} is required`);
  if (!UUID.test(id)) throw invalid(`${what} ${show(id)} is not a UUID (the replica's instance id, e.g. 0b7e3f4c-1d2a-4c55-9a1e-8f0e2d3c4b5a)`);
}

function checkSecret(secret: string, what: string): void {
  if (!secret) throw invalid(`${what} is required`);
  if (secret.length > MAX_SECRET) throw invalid(`${what} is longer than ${MAX_SECRET} characters`);
  if (!/^[\x21-\x7e]+$/.test(secret)) throw invalid(`${what} may hold only printable ASCII characters without spaces`);
}

export function checkReplicaAccess(replicas: readonly ReplicaAccess[]): void {
  if (!replicas.length) throw invalid('replicas is empty: name at least one replica (replica_id and password)');
  const seen = new Set<string>();
  replicas.forEach((r, i) => {
    checkReplicaId(r.replicaId, `replicas[${i}].replica_id`);
    checkSecret(r.password, `replicas[${i}].password`);
    if (r.cloneTicket && !TICKET_PATTERN.test(r.cloneTicket)) throw invalid(`replicas[${i}].clone_ticket is not 64 lowercase hex digits (32 random bytes)`);
    const ttl = r.cloneTtlSeconds ?? 0;
    if (!Number.isInteger(ttl) || ttl < 0 || ttl > MAX_CLONE_TTL_SECONDS) {
      throw invalid(`replicas[${i}].clone_ttl_seconds must be 0 (the default) to ${MAX_CLONE_TTL_SECONDS}, got ${ttl}`);
    }
    const key = r.replicaId.toLowerCase();
    if (seen.has(key)) throw invalid(`replicas[${i}].replica_id ${r.replicaId} is named twice`);
    seen.add(key);
  });
}

/** A source to follow: where it is and the account to use. */
export function checkSource(source: SourceInfo | undefined, what: string): SourceInfo {
  if (!source) throw invalid(`${what} is required: the source's host, port, replication user and password`);
  if (!source.host) throw invalid(`${what}.host is required`);
  if (!HOST.test(source.host)) throw invalid(`${what}.host ${show(source.host)} is not a host name or IP address`);
  if (!Number.isInteger(source.port) || source.port < 1 || source.port > 65535) throw invalid(`${what}.port must be 1-65535, got ${source.port}`);
  if (source.instanceId && !INSTANCE_ID.test(source.instanceId)) throw invalid(`${what}.instance_id ${show(source.instanceId)} is not an instance id`);
  if (!source.replicationUser) throw invalid(`${what}.replication_user is required`);
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}$/.test(source.replicationUser)) throw invalid(`${what}.replication_user ${show(source.replicationUser)} may hold only letters, digits, "_", "." and "-"`);
  checkSecret(source.replicationPassword, `${what}.replication_password`);
  if (/[\s"'\\]/.test(source.position) || source.position.length > 4096) throw invalid(`${what}.position ${show(source.position)} is not a position`);
  if (source.slotName && !/^[a-z0-9_]{1,63}$/.test(source.slotName)) throw invalid(`${what}.slot_name ${show(source.slotName)} may hold only a-z, 0-9 and "_"`);
  if (source.clonePort || source.cloneTicket) {
    const port = source.clonePort ?? 0;
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid(`${what}.clone_port must be 1-65535 with a clone_ticket, got ${port}`);
    if (!TICKET_PATTERN.test(source.cloneTicket ?? '')) throw invalid(`${what}.clone_ticket is not 64 lowercase hex digits (the ticket given to the source's AddReplicaAccess)`);
  }
  if (source.cloneCompression && !(CLONE_COMPRESSIONS as readonly string[]).includes(source.cloneCompression)) {
    throw invalid(`${what}.clone_compression ${show(source.cloneCompression)} is not one of ${CLONE_COMPRESSIONS.join(', ')} (or empty: the default)`);
  }
  return source;
}
