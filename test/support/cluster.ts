// Clusters through the real control's gRPC ClusterService: a client, and
// what a user waits for (every member ACTIVE, the task over).
import { credentials } from '@grpc/grpc-js';
import { ClusterServiceClient, ClusterTask, type Cluster, type GetClusterResponse } from '../../proto/gen/coffer/control/v1/clusters.js';
import { InstanceStatus } from '../../proto/gen/coffer/control/v1/instances.js';
import { waitFor } from './agent.js';
import { ccall, type ControlHarness } from './control.js';

export function clusterClient(h: ControlHarness): ClusterServiceClient {
  return new ClusterServiceClient(h.address, credentials.createInsecure());
}

export async function getCluster(client: ClusterServiceClient, token: string, id: string): Promise<Cluster> {
  return (await ccall<GetClusterResponse>(client, 'getCluster', { id }, token)).cluster!;
}

/** The cluster's task over, with `size` members, every one ACTIVE (a user refreshing `cluster show`). */
export function waitClusterActive(client: ClusterServiceClient, token: string, id: string, size: number, what: string, timeoutMs = 600_000): Promise<Cluster> {
  return waitFor(what, async () => {
    const c = await getCluster(client, token, id);
    if (c.task === ClusterTask.CLUSTER_TASK_NONE && c.fault) throw new Error(`cluster ${c.name} failed at ${c.fault.step}: ${c.fault.message}`);
    const ready = c.task === ClusterTask.CLUSTER_TASK_NONE && c.instances.length === size && c.instances.every((i) => i.status === InstanceStatus.INSTANCE_STATUS_ACTIVE && !i.taskId);
    return ready ? c : false;
  }, timeoutMs);
}
