// coffer.control.v1.ClusterService over the service layer (control/service/clusters.ts).
import type * as grpc from '@grpc/grpc-js';
import { ClusterServiceService, type ClusterMemberSpec, type ClusterServiceServer, type WatchClusterResponse } from '../../proto/gen/coffer/control/v1/clusters.js';
import type { ControlContext } from '../context.js';
import type { ProgressRecord } from '../events.js';
import type { ClusterRow } from '../store/clusters.js';
import * as svc from '../service/clusters.js';
import { toCluster, toTaskEvent } from './convert.js';
import { decodePageToken, encodePageToken, pageSize, serverStream, unary } from './handlers.js';

/** proto3's zero values are "not given". */
const memberInput = (m: ClusterMemberSpec): svc.ClusterMemberInput => ({
  flavorId: m.flavorId || undefined,
  volumeSizeGb: m.volumeSizeGb || undefined,
  role: m.role || undefined,
  availabilityZone: m.availabilityZone || undefined,
});

export function addClusterService(server: grpc.Server, c: ControlContext): void {
  const deps = { db: c.db, log: c.log };
  const view = (r: ClusterRow) => toCluster(r, c.instances.clusterMembers(r.id), c.instances, c.config.heartbeatExpiryMs);

  const impl: ClusterServiceServer = {
    createCluster: unary(deps, 'CreateCluster', async (req, scope) => {
      const r = svc.createCluster(c, scope, { name: req.name, datastore: req.datastore, datastoreVersion: req.datastoreVersion || undefined, instances: req.instances.map(memberInput), configurationId: req.configurationId || undefined }, svc.GRPC_CLUSTER_FIELDS);
      return { cluster: view(r.cluster), taskId: r.taskId };
    }),

    listClusters: unary(deps, 'ListClusters', async (req, scope) => {
      const page = svc.listClusters(c, scope, { limit: pageSize(req.pageSize), marker: decodePageToken(req.pageToken) });
      return { clusters: page.items.map(view), nextPageToken: page.nextMarker ? encodePageToken(page.nextMarker) : '' };
    }),

    getCluster: unary(deps, 'GetCluster', async (req, scope) => ({ cluster: view(svc.findCluster(c, scope, req.id)) })),

    growCluster: unary(deps, 'GrowCluster', async (req, scope) => {
      const r = svc.growCluster(c, scope, req.id, req.instances.map(memberInput), svc.GRPC_CLUSTER_FIELDS);
      return { cluster: view(r.cluster), taskId: r.taskId };
    }),

    shrinkCluster: unary(deps, 'ShrinkCluster', async (req, scope) => ({ taskId: svc.shrinkCluster(c, scope, req.id, req.instanceIds) })),

    deleteCluster: unary(deps, 'DeleteCluster', async (req, scope) => ({ taskId: svc.deleteCluster(c, scope, req.id) })),

    resetClusterStatus: unary(deps, 'ResetClusterStatus', async (req, scope) => ({ cluster: view(svc.resetClusterStatus(c, scope, req.id).cluster) })),

    // The cluster whenever it or a member changes, and its running task's
    // progress (every member's InstallCluster events, relayed by the
    // workflow with the member's name); ends when its task is NONE or it
    // is gone.
    watchCluster: serverStream<{ id: string }, WatchClusterResponse>(deps, 'WatchCluster', async (req, scope, write, signal) => {
      const first = svc.findCluster(c, scope, req.id);
      await new Promise<void>((resolve) => {
        let lastSeq = 0;
        let ended = false;
        const sendProgress = (e: ProgressRecord): void => {
          if (e.seq <= lastSeq) return;
          lastSeq = e.seq;
          write({ cluster: undefined, progress: toTaskEvent(e) });
        };
        const finish = (): void => {
          if (ended) return;
          ended = true;
          c.events.off('cluster', onCluster);
          c.events.off('instance', onInstance);
          c.events.off('progress', onProgress);
          signal.removeEventListener('abort', finish);
          resolve();
        };
        const check = (): void => {
          const r = c.clusters.get(req.id);
          if (!r) return finish();
          write({ cluster: view(r), progress: undefined });
          if (r.task === 'NONE' && !r.task_id) finish();
        };
        const onCluster = (id: string): void => {
          if (id === req.id) check();
        };
        const onInstance = (id: string): void => {
          if (c.instances.get(id)?.cluster_id === req.id) check();
        };
        const onProgress = (e: ProgressRecord): void => {
          if (c.clusters.get(req.id)?.task_id === e.task_id) sendProgress(e);
        };
        c.events.on('cluster', onCluster);
        c.events.on('instance', onInstance);
        c.events.on('progress', onProgress);
        signal.addEventListener('abort', finish, { once: true });
        if (first.task_id) for (const e of c.tasks.events(first.task_id)) sendProgress(e);
        check();
      });
    }),
  };
  server.addService(ClusterServiceService, impl as unknown as grpc.UntypedServiceImplementation);
}
