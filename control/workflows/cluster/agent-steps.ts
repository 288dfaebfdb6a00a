// The cluster calls the workflows make on one member, one small function
// each, so the workflows read as the order of steps in docs/clusters.md.
// Every agent call is idempotent (the agent finds its work done), so a
// step resumed after a control restart calls again.
import type {
  ClusterContext,
  ClusterMember,
  GetClusterContextResponse,
  GetRecoveryPositionResponse,
  InstallClusterResponse,
  RecoverClusterResponse,
  RecoveryPosition,
} from '../../../proto/gen/coffer/agent/v1/cluster.js';
import { setTimeout as delay } from 'node:timers/promises';
import { errorCodeOf, statusErrorOf } from '../../../lib/retryable.js';
import { agentCall, agentStream } from '../../agent-client.js';
import { allocationOf, withAgent, type ControlContext } from '../../context.js';
import type { ClusterRow } from '../../store/clusters.js';
import type { InstanceRow } from '../../store/instances.js';
import { PermanentStepError, type StepProgress } from '../../tasks/workflow.js';
import { clusterSecrets } from './strategies.js';

const QUICK_MS = 30_000;

export function liveCluster(c: ControlContext, id: string): ClusterRow {
  const r = c.clusters.get(id);
  if (!r) throw new PermanentStepError(`cluster ${id} was deleted`);
  return r;
}

export function liveMember(c: ControlContext, id: string): InstanceRow {
  const r = c.instances.get(id);
  if (!r) throw new PermanentStepError(`member ${id} was deleted`);
  return r;
}

/** One member as the others reach it: its client port and its cluster ports (from its allocation). */
export function memberOf(r: InstanceRow): ClusterMember {
  const a = allocationOf(r);
  if (!a) throw new PermanentStepError(`member ${r.id} has no compute allocation`);
  return { instanceId: r.id, host: a.datastoreHost, port: a.datastorePort, role: r.cluster_role, clusterPorts: { ...(a.clusterPorts ?? {}) } };
}

/** A member's progress, relayed with its name, so a watcher sees which member says what. */
const relay = (r: InstanceRow, progress: (p: StepProgress) => void) => (m: { progress?: { phase: string; message: string; percent: number } }): void => {
  if (m.progress) progress({ phase: m.progress.phase, message: `${r.name}: ${m.progress.message}`, percent: m.progress.percent });
};

function agentFailure(what: string, r: InstanceRow, err: unknown): Error {
  return new Error(`${what} on ${r.name} (${r.id}) failed: ${(err as { details?: string }).details ?? String(err)}`, { cause: err });
}

const BUSY_POLL_MS = 2000;

/**
 * Runs a long member call again while the agent answers BUSY: after a
 * control restart the same call, cut off mid-way (a joiner's state
 * transfer), can still hold the agent's operation lock for minutes. It is
 * waited out rather than spending the step's few attempts; the task's
 * deadline (the signal) bounds the wait.
 */
async function pastBusy(r: InstanceRow, progress: (p: StepProgress) => void, signal: AbortSignal, fn: () => Promise<void>): Promise<void> {
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      const s = statusErrorOf(err);
      if (!s || errorCodeOf(s) !== 'AGENT_ERR_BUSY' || signal.aborted) throw err;
      progress({ phase: 'wait', message: `${r.name}: waiting for the agent's running operation to end (${s.details ?? 'busy'})` });
      await delay(BUSY_POLL_MS, undefined, { signal }).catch(() => undefined);
    }
  }
}

/** InstallCluster: the member starts as the first node (bootstrap) or joins; resolves once it serves. */
export async function installMember(c: ControlContext, cluster: ClusterRow, r: InstanceRow, members: readonly ClusterMember[], bootstrap: boolean, progress: (p: StepProgress) => void, signal: AbortSignal): Promise<void> {
  await withAgent(c, r, async (a) => {
    try {
      await pastBusy(r, progress, signal, () =>
        agentStream<InstallClusterResponse>(
          a.cluster.installCluster({ strategy: cluster.strategy, clusterId: cluster.id, members: [...members], secrets: clusterSecrets(c, cluster), bootstrap }),
          relay(r, progress),
          signal,
        ),
      );
    } catch (err) {
      throw agentFailure('InstallCluster', r, err);
    }
  });
}

export async function completeMember(c: ControlContext, cluster: ClusterRow, r: InstanceRow): Promise<void> {
  await withAgent(c, r, (a) => agentCall(a.cluster, 'completeCluster', { clusterId: cluster.id }, QUICK_MS));
}

export async function setMembers(c: ControlContext, cluster: ClusterRow, r: InstanceRow, members: readonly ClusterMember[]): Promise<void> {
  await withAgent(c, r, (a) => agentCall(a.cluster, 'setClusterMembers', { clusterId: cluster.id, members: [...members] }, QUICK_MS));
}

/** LeaveCluster: a clean stop (long enough for the datastore's shutdown). */
export async function leaveMember(c: ControlContext, cluster: ClusterRow, r: InstanceRow): Promise<void> {
  await withAgent(c, r, (a) => agentCall(a.cluster, 'leaveCluster', { clusterId: cluster.id }, 300_000));
}

export async function memberContext(c: ControlContext, r: InstanceRow, timeoutMs = QUICK_MS): Promise<ClusterContext | undefined> {
  return (await withAgent(c, r, (a) => agentCall<GetClusterContextResponse>(a.cluster, 'getClusterContext', {}, timeoutMs))).context;
}

/** True when the member serves in a primary component (its status as the datastore reports it). */
export function servesPrimary(ctx: ClusterContext | undefined): boolean {
  const s = ctx?.status;
  return !!s && s.running && s.primary && s.ready;
}

/** GetRecoveryPosition (it stops a datastore that cannot serve, and may run --wsrep-recover). */
export async function recoveryPosition(c: ControlContext, r: InstanceRow): Promise<RecoveryPosition> {
  const p = (await withAgent(c, r, (a) => agentCall<GetRecoveryPositionResponse>(a.cluster, 'getRecoveryPosition', {}, 300_000))).position;
  if (!p) throw new Error(`GetRecoveryPosition on ${r.name} (${r.id}) answered no position`);
  return p;
}

export async function recoverMember(c: ControlContext, cluster: ClusterRow, r: InstanceRow, bootstrap: boolean, positions: readonly RecoveryPosition[], progress: (p: StepProgress) => void, signal: AbortSignal): Promise<void> {
  await withAgent(c, r, async (a) => {
    try {
      await pastBusy(r, progress, signal, () =>
        agentStream<RecoverClusterResponse>(a.cluster.recoverCluster({ clusterId: cluster.id, bootstrap, positions: [...positions] }), relay(r, progress), signal),
      );
    } catch (err) {
      throw agentFailure('RecoverCluster', r, err);
    }
  });
}
