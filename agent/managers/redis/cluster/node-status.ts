// A member's view of its Redis Cluster, as GetClusterContext reports it
// (docs/clusters.md, "Redis Cluster: status"), read over the agent's unix
// socket (CLUSTER INFO, CLUSTER NODES):
//   state           cluster_state ("ok", "fail")
//   cluster_size    the nodes this one sees up (known nodes not flagged
//                   fail, fail?, handshake or noaddr): Galera's "members in
//                   the component"
//   ready, primary  cluster_state ok: the node serves its slots and
//                   redirects for the others; a node cut off in a minority
//                   (or with slots uncovered) reports fail
//   last_committed  cluster_current_epoch (grows with every failover and
//                   slot move: the version of the cluster's configuration)
//   cluster_uuid    '' (a Redis Cluster has no id of its own)
//   role, slots, slots_migrating   this node's, as it has them now
import type { ClusterNodeStatus } from '../../../../proto/gen/coffer/agent/v1/cluster.js';
import type { AdminClient } from '../admin-client.js';
import { isDown, isMaster, isMyself, parseClusterInfo, parseClusterNodes } from './cluster-nodes.js';

export const NOT_RUNNING: ClusterNodeStatus = { state: '', clusterSize: 0, ready: false, primary: false, clusterUuid: '', lastCommitted: 0, running: false, role: '', slots: 0, slotsMigrating: 0 };

export async function readNodeStatus(client: AdminClient): Promise<ClusterNodeStatus> {
  let info: Record<string, string>;
  let nodes: ReturnType<typeof parseClusterNodes>;
  try {
    info = parseClusterInfo(String(await client.call('CLUSTER', 'INFO')));
    nodes = parseClusterNodes(String(await client.call('CLUSTER', 'NODES')));
  } catch (err) {
    // Running, but not (yet) in cluster mode: a member before its restart.
    if (/cluster support disabled/.test((err as Error).message)) return { ...NOT_RUNNING, running: true };
    return NOT_RUNNING;
  }
  const me = nodes.find(isMyself);
  const ok = info.cluster_state === 'ok';
  return {
    state: info.cluster_state ?? '',
    clusterSize: nodes.filter((n) => !isDown(n)).length,
    ready: ok,
    primary: ok,
    clusterUuid: '',
    lastCommitted: Number(info.cluster_current_epoch ?? 0) || 0,
    running: true,
    role: me ? (isMaster(me) ? 'master' : 'replica') : '',
    slots: me?.slots.length ?? 0,
    slotsMigrating: me ? me.migrating.size + me.importing.size : 0,
  };
}
