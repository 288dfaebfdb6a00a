// Each member's role in its cluster now, as the datastore reports it
// (docs/clusters.md, "The control and Redis Cluster"): Redis fails over
// without the control, so a replica that took over its dead master's slots
// is a master from then on, and the old master, back, follows it. The
// recorded role (cluster_role) stays what the member was created as (the
// agents' replica pairing is computed from it); the views show the live one,
// asked of each member's agent (GetClusterContext, a short timeout, all at
// once). A member whose agent is not heard, or does not answer, shows its
// recorded role. Strategies without roles (Galera) ask nothing.
import type { ControlContext } from '../context.js';
import { agentLiveness } from '../service/agent-liveness.js';
import type { ClusterRow } from '../store/clusters.js';
import type { InstanceRow } from '../store/instances.js';
import { memberContext } from '../workflows/cluster/agent-steps.js';
import { strategyOf } from '../workflows/cluster/strategies.js';

const ASK_MS = 2000;

/** Member id to its role now; every member of `members` is in it ('' for a strategy without roles). */
export async function currentRoles(c: ControlContext, cluster: ClusterRow, members: readonly InstanceRow[]): Promise<Map<string, string>> {
  const out = new Map(members.map((m) => [m.id, m.cluster_role]));
  if (!strategyOf(cluster).roles.some(Boolean)) return out;
  await Promise.all(
    members.map(async (m) => {
      if (m.status === 'BUILD' || m.status === 'DELETING' || !agentLiveness(c.instances, m.id, c.config.heartbeatExpiryMs).reachable) return;
      const s = await memberContext(c, m, ASK_MS).then((ctx) => ctx?.status, () => undefined);
      if (s?.running && s.role) out.set(m.id, s.role);
    }),
  );
  return out;
}
