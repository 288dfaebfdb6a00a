// Clusters through the real control's gRPC ClusterService: a client, and
// what a user waits for (every member ACTIVE, the task over).
import { credentials, status as Status, type ServiceError } from '@grpc/grpc-js';
import { ClusterServiceClient, ClusterTask, type Cluster, type GetClusterResponse, type GrowClusterRequest, type GrowClusterResponse } from '../../proto/gen/coffer/control/v1/clusters.js';
import { InstanceStatus } from '../../proto/gen/coffer/control/v1/instances.js';
import { waitFor } from './agent.js';
import { ccall, type ControlHarness } from './control.js';

export function clusterClient(h: ControlHarness): ClusterServiceClient {
  return new ClusterServiceClient(h.address, credentials.createInsecure());
}

export async function getCluster(client: ClusterServiceClient, token: string, id: string): Promise<Cluster> {
  return (await ccall<GetClusterResponse>(client, 'getCluster', { id }, token)).cluster!;
}

/**
 * The cluster's task over, with `size` members, every one ACTIVE (a user
 * refreshing `cluster show`). A task that failed ends the wait at once with
 * the cluster's fault.
 */
export async function waitClusterActive(client: ClusterServiceClient, token: string, id: string, size: number, what: string, timeoutMs = 600_000): Promise<Cluster> {
  const seen = await waitFor(what, async () => {
    const c = await getCluster(client, token, id);
    if (c.task === ClusterTask.CLUSTER_TASK_NONE && c.fault) return { failed: `cluster ${c.name} failed at ${c.fault.step}: ${c.fault.message}` };
    const ready = c.task === ClusterTask.CLUSTER_TASK_NONE && c.instances.length === size && c.instances.every((i) => i.status === InstanceStatus.INSTANCE_STATUS_ACTIVE && !i.taskId);
    return ready ? { cluster: c } : false;
  }, timeoutMs);
  if ('failed' in seen) throw new Error(seen.failed);
  return seen.cluster;
}

/**
 * GrowCluster as a user runs it: the control refuses a grow (409) while a
 * member's agent is unheard for longer than the heartbeat lease, which a
 * loaded machine can cause for a moment with the tests' 1 s heartbeat and
 * 3 s lease; the user tries again. Any other refusal, or one that lasts
 * `timeoutMs`, is thrown, naming the first refusal.
 */
export async function growCluster(client: ClusterServiceClient, token: string, req: GrowClusterRequest, timeoutMs = 60_000): Promise<GrowClusterResponse> {
  const deadline = Date.now() + timeoutMs;
  let first = '';
  for (;;) {
    try {
      return await ccall<GrowClusterResponse>(client, 'growCluster', req, token);
    } catch (err) {
      const e = err as ServiceError;
      const away = e.code === Status.FAILED_PRECONDITION && / is away \(its agent was /.test(e.details ?? '');
      if (!away) throw err;
      first ||= e.details;
      if (Date.now() > deadline) throw new Error(`cluster ${req.id} refused the grow for ${timeoutMs} ms; first refused: ${first}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}
