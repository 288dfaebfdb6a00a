// The checks every cluster request gets before anything changes, each
// refusal naming the field and what would be accepted. The datastore's
// table (ClusterCapability) says which strategies, ports and secrets apply.
import type { ClusterMember } from '../../proto/gen/coffer/agent/v1/cluster.js';
import { AgentError, invalid } from '../errors.js';
import type { ClusterCapability } from '../managers/manager.js';
import { show } from '../replication/validate.js';

/** A cluster id reaches config files (wsrep_cluster_name): plain characters only. */
const CLUSTER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|[0-9A-Fa-f:.]{2,45})$/;
const SECRET = /^[\x21-\x7e]{8,128}$/;

export function checkStrategy(cap: ClusterCapability, strategy: string, datastore: string): void {
  if (!strategy) throw invalid(`strategy is required (${datastore} offers: ${cap.strategies.join(', ')})`);
  if (!cap.strategies.includes(strategy)) throw invalid(`unknown cluster strategy ${show(strategy)} for ${datastore} (offers: ${cap.strategies.join(', ')})`);
}

export function checkClusterId(id: string, strategy = '', max = 64): void {
  if (!id) throw invalid('cluster_id is required');
  if (!CLUSTER_ID.test(id)) throw invalid(`cluster_id ${show(id)} may hold only letters, digits, '_', '.' and '-' (at most 64)`);
  if (id.length > max) throw invalid(`cluster_id ${show(id)} has ${id.length} characters; ${strategy} carries at most ${max}`);
}

/** The member list, and this instance's place in it. */
export function checkMembers(cap: ClusterCapability, strategy: string, members: readonly ClusterMember[], selfId: string): ClusterMember {
  if (!members.length) throw invalid('members is empty: name every member, this one included');
  const seen = new Set<string>();
  const endpoints = new Set<string>();
  members.forEach((m, i) => {
    const at = `members[${i}]`;
    if (!m.instanceId) throw invalid(`${at}.instance_id is required`);
    if (seen.has(m.instanceId)) throw invalid(`${at}.instance_id ${show(m.instanceId)} is named twice`);
    seen.add(m.instanceId);
    if (!HOST.test(m.host)) throw invalid(`${at}.host ${show(m.host)} is not a host name or an IP address`);
    if (!(m.port >= 1 && m.port <= 65535)) throw invalid(`${at}.port ${m.port} is not a port (1-65535)`);
    for (const name of cap.requiredPorts(strategy)) {
      const p = m.clusterPorts[name];
      if (p === undefined) throw invalid(`${at}.cluster_ports has no ${show(name)} port (${strategy} needs: ${cap.requiredPorts(strategy).join(', ')})`);
      if (!(p >= 1 && p <= 65535)) throw invalid(`${at}.cluster_ports.${name} ${p} is not a port (1-65535)`);
    }
    for (const p of [m.port, ...Object.values(m.clusterPorts)]) {
      const key = `${m.host}:${p}`;
      if (endpoints.has(key)) throw invalid(`${at}: ${key} is used twice in the member list (every member needs ports of its own on a shared host)`);
      endpoints.add(key);
    }
  });
  const self = members.find((m) => m.instanceId === selfId);
  if (!self) throw invalid(`members does not name this instance (${selfId})`);
  return self;
}

export function checkSecrets(cap: ClusterCapability, strategy: string, secrets: Readonly<Record<string, string>>): void {
  for (const name of cap.requiredSecrets(strategy)) {
    const v = secrets[name];
    if (!v) throw invalid(`secrets has no ${show(name)} (${strategy} needs: ${cap.requiredSecrets(strategy).join(', ')}; the control generates them)`);
    // Never echoed back: only what is wrong with it.
    if (!SECRET.test(v)) throw invalid(`secrets.${name} must be 8-128 printable ASCII characters without spaces`);
  }
}

export function notMember(what: string): AgentError {
  return new AgentError('AGENT_ERR_NOT_READY', `cannot ${what}: this instance is no cluster's member (run InstallCluster)`);
}
