// A cluster member's role as every view shows it (GetCluster, ListClusters,
// GetInstance's cluster_role, REST cluster show/list): as its datastore
// last reported it, from the heartbeat the conductor recorded
// (instance_heartbeats.cluster_role, docs/clusters.md "What the views
// show"). No agent is asked on the read path. Redis fails over without
// the control, so a replica that took over its dead master's slots is a
// master from then on, and the old master, back, follows it. A member
// whose agent is not heard any more shows the role it last reported; one
// that never reported a role (still building, or galera) shows the role
// it was created with (instances.cluster_role, from which the agents'
// replica pairing is computed).
import type { InstanceRow, InstanceStore } from '../store/instances.js';

export function memberRole(instances: Pick<InstanceStore, 'heartbeat'>, m: InstanceRow): string {
  if (!m.cluster_id) return m.cluster_role;
  const hb = instances.heartbeat(m.id);
  const reported = hb?.cluster_role ?? '';
  if (!reported) return m.cluster_role;
  // A member created as a replica is an empty master until the cluster's
  // reconcile has it follow its master (CLUSTER REPLICATE): not a master
  // that took over, which serves slots.
  if (reported === 'master' && m.cluster_role === 'replica' && !hb!.cluster_slots) return m.cluster_role;
  return reported;
}
