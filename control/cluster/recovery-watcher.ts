// When the control recovers a cluster from a full outage (docs/clusters.md,
// "When recovery runs"). A member whose agent boots and finds no peer
// answering keeps its datastore down and reports SHUTDOWN with a reason
// naming the full outage; a member of a cluster that still serves never
// holds (it finds a peer and rejoins by itself). So once every member's
// agent is heard again (a fresh heartbeat: the positions of all are needed,
// the most advanced may be any) and at least one of them holds for the
// full outage, the recovery workflow starts (workflows/cluster/recover.ts),
// once: the cluster's task (RESTARTING_CLUSTER) keeps a second one out.
// A recovery that failed is tried again after RETRY_MS while the members
// still hold.
import { DatastoreState } from '../../proto/gen/coffer/agent/v1/lifecycle.js';
import type { ControlContext } from '../context.js';
import { agentLiveness } from '../service/agent-liveness.js';
import type { ClusterRow } from '../store/clusters.js';
import { strategyOf } from '../workflows/cluster/strategies.js';
import { submitClusterRecover } from '../workflows/cluster/submit.js';

const TICK_MS = 1000;
const RETRY_MS = 60_000;

/** The agent's reason for holding its datastore at boot (agent/cluster/cluster.ts holdAtBoot). */
const FULL_OUTAGE = /full outage/;

export class RecoveryWatcher {
  private timer: NodeJS.Timeout | undefined;
  private tick: Promise<void> = Promise.resolve();
  /** When a recovery was last started per cluster. */
  private readonly started = new Map<string, number>();

  constructor(private readonly c: ControlContext) {}

  start(): void {
    this.timer = setInterval(() => {
      this.tick = this.tick.then(() => this.check()).catch((err: unknown) => this.c.log.error({ err }, 'cluster recovery watcher failed'));
    }, TICK_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.tick;
  }

  /** Why the cluster needs the control's recovery now, or '' when it does not. */
  outage(cluster: ClusterRow, now = Date.now()): string {
    const { c } = this;
    if (cluster.task !== 'NONE' || cluster.task_id || !strategyOf(cluster).recovery) return '';
    const members = c.instances.clusterMembers(cluster.id);
    if (!members.length || members.some((m) => m.task_id || m.status === 'BUILD' || m.status === 'DELETING')) return '';
    const holding: string[] = [];
    for (const m of members) {
      const { heartbeat, reachable } = agentLiveness(c.instances, m.id, c.config.heartbeatExpiryMs, now);
      if (!heartbeat || !reachable) return '';
      if (heartbeat.datastore_state === DatastoreState.DATASTORE_STATE_SHUTDOWN && FULL_OUTAGE.test(heartbeat.reason)) holding.push(m.name);
    }
    return holding.length ? `${holding.join(', ')} wait${holding.length === 1 ? 's' : ''} for the recovery of a full outage` : '';
  }

  private async check(): Promise<void> {
    const { c } = this;
    const now = Date.now();
    for (const cluster of c.clusters.all()) {
      const why = this.outage(cluster, now);
      if (!why) continue;
      const last = this.started.get(cluster.id);
      if (last !== undefined && now - last < RETRY_MS) continue;
      try {
        const taskId = submitClusterRecover(c, cluster);
        this.started.set(cluster.id, now);
        c.log.warn({ cluster: cluster.id, taskId, why }, 'full outage: recovering the cluster from its most advanced member');
      } catch (err) {
        c.log.warn({ cluster: cluster.id, err: (err as Error).message }, 'the cluster recovery could not start');
      }
    }
  }
}
