// The rule of a full outage: a cluster is started anew only from the node
// whose committed history is the longest. Bootstrapping from a node that is
// behind silently drops every transaction the others committed after it
// (mariadb-operator #1701, KubeBlocks addons #2996): refused here, on the
// node itself, whatever the caller believes.
import type { RecoveryPosition } from '../../proto/gen/coffer/agent/v1/cluster.js';
import { AgentError } from '../errors.js';

export function checkBootstrapFrom(own: RecoveryPosition, positions: readonly RecoveryPosition[]): void {
  if (own.seqno < 0) {
    throw new AgentError('AGENT_ERR_NOT_READY', `refusing to bootstrap from ${own.instanceId}: its last committed position is unknown (seqno -1)`);
  }
  for (const p of positions) {
    if (p.instanceId === own.instanceId) continue;
    if (p.clusterUuid && p.clusterUuid !== own.clusterUuid && p.seqno >= 0) {
      throw new AgentError('AGENT_ERR_NOT_READY', `refusing to bootstrap from ${own.instanceId}: ${p.instanceId} holds another history (cluster uuid ${p.clusterUuid}, this node ${own.clusterUuid}); resolve by hand`);
    }
    if (p.seqno > own.seqno) {
      throw new AgentError(
        'AGENT_ERR_NOT_READY',
        `refusing to bootstrap from ${own.instanceId}: it is behind ${p.instanceId} (seqno ${own.seqno} < ${p.seqno}); bootstrap from the most advanced node`,
      );
    }
  }
}
