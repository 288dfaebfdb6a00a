// Redis's ClusterCapability: Redis Cluster (strategy `redis-cluster`, Redis
// 7.0). The member's settings are settings.ts, rendered into redis.conf by
// the manager; the plan persists in <agentDir>/redis-cluster.json (no
// secret) and the cluster account's secret in <agentDir>/redis-cluster.secret
// (0600, root's). The cluster is formed and rebalanced by reconcile.ts, a
// member leaves by leave.ts; who does which, and when, is docs/clusters.md
// ("Redis Cluster").
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../../../lib/logger.js';
import { AgentError } from '../../../errors.js';
import type { Layout } from '../../../layout.js';
import type { ClusterCapability, ClusterPlan } from '../../manager.js';
import type { AdminClient } from '../admin-client.js';
import { CLUSTER_USER } from '../names.js';
import { ensureClusterAccount } from './cluster-account.js';
import { leaveCluster } from './leave.js';
import { NOT_RUNNING, readNodeStatus } from './node-status.js';
import type { PeerAuth } from './peer-client.js';
import { reconcile, type ReconcileResult } from './reconcile.js';
import { NODES_CONF } from './settings.js';

export const STRATEGY = 'redis-cluster';

export interface RedisClusterDeps {
  readonly layout: Layout;
  readonly log: Logger;
  /** The agent's admin connection (unix socket). */
  readonly client: AdminClient;
  /** The ACL file, to drop the cluster account from while the server is stopped. */
  readonly aclFile: string;
  /** 'verified': the members serve TLS and the deployment's CA verifies them; 'no-ca': TLS without a CA (refused); 'off'. */
  readonly tls: 'off' | 'verified' | 'no-ca';
  /** The deployment's CA file (for 'verified'). */
  readonly caFile: string | null;
  /**
   * Whom a replica authenticates as with its master (masteruser and
   * masterauth, in the 0600 replication include): the cluster account, on
   * every member, since a failover makes any master's node a replica.
   * Empty strings: none.
   */
  readonly setMasterAuth: (user: string, password: string) => void;
  /** Renders redis.conf again (it reads the plan through plan()). */
  readonly rerenderConfig: () => Promise<void>;
  /** How long gossip may take to agree. */
  readonly convergeMs?: number;
}

export interface RedisClusterCapability extends ClusterCapability {
  /** The plan redis.conf renders, null when not a member. */
  plan(): ClusterPlan | null;
  /** The members serve TLS (tls-cluster on). */
  readonly tls: boolean;
}

const names = (ms: ReadonlyArray<{ instanceId: string }>): string => ms.map((m) => m.instanceId).join(', ');

export function createRedisCluster(deps: RedisClusterDeps): RedisClusterCapability {
  const { layout, log, client } = deps;
  const stateFile = path.join(layout.agentDir, 'redis-cluster.json');
  const secretFile = path.join(layout.agentDir, 'redis-cluster.secret');
  const nodesConf = path.join(layout.dataDir, NODES_CONF);
  const readPlan = (): ClusterPlan | null => (existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, 'utf8')) as { plan: ClusterPlan | null }).plan : null);
  const atomic = (file: string, text: string): void => {
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, file);
  };
  const writePlan = (plan: ClusterPlan | null): void => atomic(stateFile, JSON.stringify({ plan }, null, 2) + '\n');
  const auth = (): PeerAuth => {
    if (!existsSync(secretFile)) throw new AgentError('AGENT_ERR_NOT_READY', 'the cluster account has no secret here (run InstallCluster)');
    return { user: CLUSTER_USER, password: readFileSync(secretFile, 'utf8').trim(), caFile: deps.tls === 'verified' ? deps.caFile! : undefined };
  };
  const report = (r: ReconcileResult, emit: (p: { phase: string; message: string; percent: number }) => void): void => {
    if (r.done) emit({ phase: 'cluster', message: `the cluster serves (${r.slotsMoved} slots, ${r.keysMoved} keys moved)`, percent: 95 });
    else if (r.missing.length) emit({ phase: 'cluster', message: `${names(r.missing)} do not answer as members yet (not installed, or down): the member installed last forms or rebalances the cluster`, percent: 95 });
  };

  return {
    strategies: [STRATEGY],
    tls: deps.tls === 'verified',
    plan: readPlan,
    requiredPorts: () => ['bus'],
    peerPort: () => 'bus',
    requiredSecrets: () => ['cluster'],
    selfRecovering:
      'a Redis Cluster recovers from a full outage by itself: start every member (Start); each rejoins from its nodes.conf and the cluster serves again once a majority of masters is back',

    async configure(plan, secrets): Promise<void> {
      if (deps.tls === 'no-ca') {
        throw new AgentError('AGENT_ERR_NOT_READY', 'this instance serves TLS but the agent has no deployment CA (--datastore-tls-ca): the cluster bus (tls-cluster) must verify the other members with it');
      }
      atomic(secretFile, `${secrets.cluster}\n`);
      deps.setMasterAuth(CLUSTER_USER, secrets.cluster!);
      writePlan(plan);
      await deps.rerenderConfig();
    },

    async afterBootstrap(): Promise<void> {
      // Nothing the others need from the first node: every member forms the
      // cluster alike (join).
    },

    async join(plan, secrets, emit, signal): Promise<void> {
      await ensureClusterAccount(client, secrets.cluster!);
      report(await reconcile(plan.members, { auth: auth(), log, emit, signal, convergeMs: deps.convergeMs }), emit);
    },

    async complete(plan, signal): Promise<void> {
      const r = await reconcile(plan.members, { auth: auth(), log, emit: () => undefined, signal, convergeMs: deps.convergeMs });
      if (!r.done) throw new AgentError('AGENT_ERR_NOT_READY', `cannot complete the cluster: ${names(r.missing)} do not answer as members (not installed yet, or down: no slot moves until every listed member answers; install or start them)`);
    },

    bootstrapPending: () => false,
    async clearBootstrap(): Promise<void> {},

    async setMembers(plan, running, signal): Promise<void> {
      writePlan(plan);
      if (!running) return;
      const r = await reconcile(plan.members, { auth: auth(), log, emit: (p) => log.info({ phase: p.phase }, p.message), signal, onlyIfDriver: plan.self.instanceId, convergeMs: deps.convergeMs });
      if (!r.done && r.missing.length) log.info({ missing: names(r.missing) }, 'members do not answer (not installed, or down): nothing moves now; the member installed last rebalances');
      else if (!r.done) log.info({ driver: r.driver }, 'another member drives the rebalance');
    },

    nodeStatus: () => readNodeStatus(client).catch(() => NOT_RUNNING),

    // Installed: the node runs in cluster mode (the cluster itself serves
    // once every member is in: status.ready).
    serving: (s) => s.running && s.state !== '',

    async recoveryPosition(): Promise<never> {
      throw new AgentError('AGENT_ERR_UNIMPLEMENTED', 'a Redis Cluster has no recovery position');
    },

    async markSafeToBootstrap(): Promise<void> {},

    async beforeLeave(plan, running, signal): Promise<void> {
      await leaveCluster({ self: plan.self, members: plan.members, auth: auth(), nodesConf, running, log, signal, convergeMs: deps.convergeMs });
    },

    async deconfigure(): Promise<void> {
      writePlan(null);
      rmSync(secretFile, { force: true });
      deps.setMasterAuth('', '');
      // A standalone start: no cluster state, no cluster account.
      rmSync(nodesConf, { force: true });
      if (existsSync(deps.aclFile)) {
        const text = readFileSync(deps.aclFile, 'utf8');
        const kept = text.split('\n').filter((l) => !l.startsWith(`user ${CLUSTER_USER} `)).join('\n');
        if (kept !== text) writeFileSync(deps.aclFile, kept);
      }
      await deps.rerenderConfig();
    },
  };
}
