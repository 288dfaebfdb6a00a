// Issue 13, clusters through the control: the time from CreateCluster (the
// gRPC ClusterService of a real coffer-control with the local driver) to
// every member ACTIVE with the cluster's task NONE, what a user waits for
// after `openstack database cluster create`, for a 3-node Galera and a
// 3-master Redis Cluster. Each round creates a new cluster and deletes it
// after; the members run the control's defaults but for small buffers
// (--cluster-member-override), as in the tests.
import { randomUUID } from 'node:crypto';
import { CreateClusterRequest, type ClusterServiceClient, type CreateClusterResponse, type GetClusterResponse } from '../../proto/gen/coffer/control/v1/clusters.js';
import { clusterClient, waitClusterActive } from '../support/cluster.js';
import { ccall, startControl } from '../support/control.js';
import { waitFor } from '../support/agent.js';
import type { BenchOptions } from './options.js';
import { row, type Row, type Teardown } from './harness.js';

const S = 'cluster-create';

const KINDS = [
  { datastore: 'mariadb', label: 'Galera, 3 nodes', overrides: ['innodb_buffer_pool_size=33554432'] },
  { datastore: 'redis', label: 'Redis Cluster, 3 masters', overrides: ['maxmemory=67108864', 'cluster-node-timeout=2000'] },
] as const;

async function gone(client: ClusterServiceClient, token: string, id: string): Promise<void> {
  await waitFor('the cluster deleted', async () => {
    try {
      await ccall<GetClusterResponse>(client, 'getCluster', { id }, token);
      return false;
    } catch (err) {
      return (err as { code?: number }).code === 5 ? true : false;
    }
  }, 600_000);
}

export async function benchClusterCreate(o: BenchOptions, td: Teardown): Promise<Row[]> {
  const rows: Row[] = [];
  for (const k of KINDS) {
    const h = await startControl(td, { extraArgs: k.overrides.flatMap((v) => ['--cluster-member-override', v]) });
    const token = h.token(`bench-${randomUUID().slice(0, 8)}`);
    const client = clusterClient(h);
    td.teardown(() => client.close());
    const times: number[] = [];
    for (let r = 0; r < o.rounds; r++) {
      const t0 = Date.now();
      const made = await ccall<CreateClusterResponse>(client, 'createCluster', CreateClusterRequest.fromPartial({ name: `b${r}`, datastore: k.datastore, instances: [{}, {}, {}] }), token);
      await waitClusterActive(client, token, made.cluster!.id, 3, `${k.label}: every member ACTIVE`);
      times.push((Date.now() - t0) / 1000);
      await ccall(client, 'deleteCluster', { id: made.cluster!.id }, token);
      await gone(client, token, made.cluster!.id);
    }
    const sorted = [...times].sort((a, b) => a - b);
    rows.push(row({
      suite: S,
      name: `${k.label}: CreateCluster to every member ACTIVE, through the control (local driver)`,
      seconds: sorted[Math.floor(sorted.length / 2)]!,
      note: `median of ${times.length} rounds: ${times.map((s) => s.toFixed(2)).join(', ')} s`,
    }));
  }
  return rows;
}
