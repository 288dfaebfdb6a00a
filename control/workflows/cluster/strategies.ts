// What differs between cluster strategies for the control, in one table:
// the workflows (create, grow, shrink, delete, recover) are the same for
// all (docs/clusters.md). Keyed by the agent manager (the catalog's
// `manager`), like replication's datastores.ts. A datastore whose agent
// gains a cluster capability plugs in here by one entry.
import type { ControlContext } from '../../context.js';
import type { ClusterRow } from '../../store/clusters.js';

export interface ClusterStrategy {
  /** The strategy's name on the wire (InstallClusterRequest.strategy). */
  readonly name: string;
  /** Fewer members are refused at create and by a shrink. */
  readonly minMembers: number;
  /** Every member has the same flavor and volume size. */
  readonly sameFlavor: boolean;
  /** The cluster ports each member needs, by name (docs/clusters.md "Ports"). */
  readonly ports: readonly string[];
  /** The secrets InstallCluster carries, by name (derived per cluster: control/replication-secret.ts). */
  readonly secrets: readonly string[];
  /** The member roles a caller may ask for; '' alone: no roles. */
  readonly roles: readonly string[];
  /** The role of a member that names none. */
  readonly defaultRole: string;
  /**
   * Whether the datastore replicates account changes across members
   * (Galera replicates the grant tables' statements); else the control
   * relays a user or root change to every member (service/accounts.ts).
   */
  readonly replicatesAccounts: boolean;
  /** Whether a full outage is recovered by the control (GetRecoveryPosition, RecoverCluster). */
  readonly recovery: boolean;
  /**
   * Whether a grow needs every member's datastore serving (Redis Cluster:
   * slots move only when every listed member answers); Galera's joiner
   * copies from any donor, so a member that is down does not hold it up.
   */
  readonly growNeedsEveryMember: boolean;
}

export const CLUSTER_STRATEGIES: Readonly<Record<string, ClusterStrategy>> = {
  mariadb: {
    name: 'galera',
    minMembers: 3,
    sameFlavor: true,
    ports: ['gmcast', 'ist', 'sst'],
    secrets: ['sst'],
    roles: [''],
    defaultRole: '',
    replicatesAccounts: true,
    recovery: true,
    growNeedsEveryMember: false,
  },
  // Redis Cluster: the `cluster` secret is the cluster account's password
  // (the agent refuses an InstallCluster without it); ACL users are not
  // replicated, so account changes go to every member; a full outage is
  // recovered by Redis itself from nodes.conf (no recovery watcher).
  redis: {
    name: 'redis-cluster',
    minMembers: 3,
    sameFlavor: true,
    ports: ['bus'],
    secrets: ['cluster'],
    roles: ['master', 'replica'],
    defaultRole: 'master',
    replicatesAccounts: false,
    recovery: false,
    growNeedsEveryMember: true,
  },
};

/** The strategy of a manager, or undefined when its datastore has none. */
export function strategyOfManager(manager: string): ClusterStrategy | undefined {
  return Object.hasOwn(CLUSTER_STRATEGIES, manager) ? CLUSTER_STRATEGIES[manager] : undefined;
}

/** The datastores that offer clusters, for a refusal that says which. */
export function clusterDatastores(): string[] {
  return Object.keys(CLUSTER_STRATEGIES);
}

/** The strategy of a recorded cluster (by its name there). */
export function strategyOf(cluster: Pick<ClusterRow, 'strategy'>): ClusterStrategy {
  const s = Object.values(CLUSTER_STRATEGIES).find((x) => x.name === cluster.strategy);
  if (!s) throw new Error(`cluster strategy "${cluster.strategy}" is not known to this control`);
  return s;
}

/** The cluster's secrets, derived again (never stored, never logged). */
export function clusterSecrets(c: ControlContext, cluster: Pick<ClusterRow, 'id' | 'strategy'>): Record<string, string> {
  return Object.fromEntries(strategyOf(cluster).secrets.map((n) => [n, c.replicationSecrets.clusterSecret(cluster.id, n)]));
}
