// Full-outage recovery (docs/clusters.md, "The recovery rule"): the
// cluster's task is RESTARTING_CLUSTER while it runs.
// - positions: every member's agent is asked for its view. When one still
//   serves in a primary component, nothing is restarted anew: the members
//   that do not serve rejoin it. Else every member's last committed
//   position is read (GetRecoveryPosition) and the most advanced member
//   chosen (the highest seqno; the agent checks again itself).
// - bootstrap: RecoverCluster(bootstrap) on that member, with every
//   position, so a node that is behind refuses.
// - rejoin: RecoverCluster without bootstrap on each other member, one at
//   a time.
// Resuming after a kill -9: the positions and the choice are recorded
// before anything starts; a member that serves already is skipped.
import type { ClusterContext, RecoveryPosition } from '../../../proto/gen/coffer/agent/v1/cluster.js';
import { isRetryable } from '../../../lib/retryable.js';
import type { ControlContext } from '../../context.js';
import type { InstanceRow } from '../../store/instances.js';
import { PermanentStepError, type StepContext, type Workflow } from '../../tasks/workflow.js';
import { liveCluster, liveMember, memberContext, recoverMember, recoveryPosition, servesPrimary } from './agent-steps.js';
import { activateMembers, endClusterTask, failClusterTask, releaseMembers } from './bookkeeping.js';

export interface ClusterRecoverData {
  clusterId: string;
  memberIds: string[];
  /** Every member's position (empty when a member still served: the others rejoin it). */
  positions?: RecoveryPosition[];
  /** The member the cluster starts anew from ('' when none needs to). */
  bootstrapId?: string;
  /** Members that serve again. */
  recovered: string[];
}

type Ctx = StepContext<ClusterRecoverData>;

/** How long a member's agent may take to answer (it may just be coming back). */
const ANSWER_WAIT_MS = 120_000;

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });

/** Asks again while the agent is unreachable (a member whose agent restarts with the others). */
async function answered<T>(r: InstanceRow, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + ANSWER_WAIT_MS;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!isRetryable(err) || Date.now() > deadline || signal.aborted) throw new Error(`member ${r.name} (${r.id}): ${(err as { details?: string }).details ?? (err as Error).message}`, { cause: err });
      await sleep(1000, signal);
    }
  }
}

/** The most advanced position: the highest seqno. */
export function mostAdvanced(positions: readonly RecoveryPosition[]): RecoveryPosition {
  const known = positions.filter((p) => p.seqno >= 0);
  if (!known.length) throw new PermanentStepError(`no member knows its last committed position (${positions.map((p) => p.instanceId).join(', ')}): the cluster cannot be recovered without losing data; see each member's log/wsrep-recover.log`);
  return known.reduce((a, b) => (b.seqno > a.seqno ? b : a));
}

export function clusterRecoverWorkflow(c: ControlContext): Workflow<ClusterRecoverData> {
  return {
    kind: 'cluster-recover',
    deadlineMs: c.config.taskDeadlineMs,
    steps: [
      {
        name: 'positions',
        async run(ctx: Ctx) {
          const d = ctx.data;
          if (d.positions) return;
          const rows = d.memberIds.map((id) => liveMember(c, id));
          const views: Array<ClusterContext | undefined> = [];
          for (const r of rows) views.push(await answered(r, ctx.signal, () => memberContext(c, r)));
          if (views.some(servesPrimary)) {
            d.positions = [];
            d.bootstrapId = '';
            d.recovered = rows.filter((_, i) => servesPrimary(views[i])).map((r) => r.id);
            ctx.progress({ phase: 'positions', message: 'a member still serves: the others rejoin it' });
            ctx.save();
            return;
          }
          const positions: RecoveryPosition[] = [];
          for (const r of rows) positions.push(await answered(r, ctx.signal, () => recoveryPosition(c, r)));
          const best = mostAdvanced(positions);
          d.positions = positions;
          d.bootstrapId = best.instanceId;
          ctx.progress({ phase: 'positions', message: `positions ${positions.map((p) => `${c.instances.get(p.instanceId)?.name ?? p.instanceId}: ${p.seqno}`).join(', ')}; starting from the most advanced` });
          ctx.save();
        },
      },
      {
        name: 'bootstrap',
        async run(ctx: Ctx) {
          const d = ctx.data;
          if (!d.bootstrapId || d.recovered.includes(d.bootstrapId)) return;
          const cluster = liveCluster(c, d.clusterId);
          const r = liveMember(c, d.bootstrapId);
          // Resumed after it started: a serving node refuses a second
          // bootstrap, so one that serves (already, or by the time its
          // refusal came back) is done.
          if (!servesPrimary(await memberContext(c, r))) {
            try {
              await recoverMember(c, cluster, r, true, d.positions ?? [], ctx.progress, ctx.signal);
            } catch (err) {
              if (!servesPrimary(await memberContext(c, r).catch(() => undefined))) throw err;
            }
          }
          d.recovered.push(r.id);
          ctx.save();
        },
      },
      {
        name: 'rejoin',
        async run(ctx: Ctx) {
          const d = ctx.data;
          const cluster = liveCluster(c, d.clusterId);
          for (const id of d.memberIds) {
            if (d.recovered.includes(id)) continue;
            await recoverMember(c, cluster, liveMember(c, id), false, [], ctx.progress, ctx.signal);
            d.recovered.push(id);
            ctx.save();
          }
        },
      },
      {
        name: 'activate',
        commit(ctx: Ctx) {
          activateMembers(c, ctx.data.memberIds);
          endClusterTask(c, ctx.data.clusterId);
        },
      },
    ],
    onFailed: (_task, data, step, message) => {
      releaseMembers(c, data.memberIds, [], step, message);
      failClusterTask(c, data.clusterId, step, message);
    },
  };
}
