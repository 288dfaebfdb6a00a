// coffer.control.v1.InstanceService over the service layer (control/service/instances.ts).
import { archiveView, checkRestoreWindow } from '../service/archiving.js';
import { managerOf } from '../workflows/replication/datastores.js';
import type * as grpc from '@grpc/grpc-js';
import { InstanceServiceService, type InstanceServiceServer, type CreateInstanceRequest, type WatchInstanceResponse } from '../../proto/gen/coffer/control/v1/instances.js';
import type { ControlContext } from '../context.js';
import type { ProgressRecord } from '../events.js';
import type { InstanceRow } from '../store/instances.js';
import type { Scope } from '../store/scope.js';
import * as svc from '../service/instances.js';
import * as repl from '../service/replication.js';
import { toInstance, toTaskEvent } from './convert.js';
import { decodePageToken, encodePageToken, pageSize, serverStream, unary } from './handlers.js';

const STABLE = new Set(['ACTIVE', 'ERROR', 'SHUTDOWN']);

export function addInstanceService(server: grpc.Server, c: ControlContext): void {
  const deps = { db: c.db, log: c.log };
  const view = (r: InstanceRow) => toInstance(r, c.instances, c.config.heartbeatExpiryMs);
  const find = (id: string, scope: Scope): InstanceRow => svc.findInstance(c, scope, id);

  const impl: InstanceServiceServer = {
    createInstance: unary(deps, 'CreateInstance', async (req: CreateInstanceRequest, scope) => {
      // proto3: 0 is "not given" (the default, one replica).
      const input = { ...req, replicaCount: req.replicaCount || undefined, autoFailover: req.autoFailover };
      if (req.replicaOf) {
        const r = repl.createReplicas(c, scope, input);
        return { instance: view(r.instance), taskId: r.taskId, replicas: r.replicas.map(view) };
      }
      // A restore point outside the archive is refused before anything is built.
      await checkRestoreWindow(c, scope, input);
      const r = svc.createInstance(c, scope, input);
      return { instance: view(r.instance), taskId: r.taskId, replicas: [] };
    }),

    listInstances: unary(deps, 'ListInstances', async (req, scope) => {
      const page = svc.listInstances(c, scope, { limit: pageSize(req.pageSize), marker: decodePageToken(req.pageToken) });
      return { instances: page.items.map(view), nextPageToken: page.nextMarker ? encodePageToken(page.nextMarker) : '' };
    }),

    // One instance's view adds its archive (restorable window, archiving
    // state) from its agent, with a short deadline; lists do not.
    getInstance: unary(deps, 'GetInstance', async (req, scope) => {
      const r = find(req.id, scope);
      const a = await archiveView(c, r, managerOf(c, r));
      return { instance: { ...view(r), archiving: a.archiving, restorableWindow: a.window, archiveRetentionDays: a.archiving?.retentionDays ?? 0 } };
    }),

    deleteInstance: unary(deps, 'DeleteInstance', async (req, scope) => ({ taskId: svc.deleteInstance(c, scope, req.id) })),

    restartInstance: unary(deps, 'RestartInstance', async (req, scope) => ({ taskId: svc.restartInstance(c, scope, req.id) })),

    resizeVolume: unary(deps, 'ResizeVolume', async (req, scope) => ({ taskId: svc.resizeVolume(c, scope, req.id, req.volumeSizeGb) })),

    watchInstance: serverStream<{ id: string }, WatchInstanceResponse>(deps, 'WatchInstance', async (req, scope, write, signal) => {
      const first = find(req.id, scope);
      await new Promise<void>((resolve) => {
        let lastSeq = 0;
        const sendProgress = (e: ProgressRecord): void => {
          if (e.seq <= lastSeq) return;
          lastSeq = e.seq;
          write({ instance: undefined, progress: toTaskEvent(e) });
        };
        const finish = (): void => {
          c.events.off('instance', onInstance);
          c.events.off('progress', onProgress);
          signal.removeEventListener('abort', finish);
          resolve();
        };
        const check = (): void => {
          const r = c.instances.get(req.id);
          if (!r) return finish();
          write({ instance: view(r), progress: undefined });
          if (STABLE.has(r.status) && !r.task_id) finish();
        };
        const onInstance = (id: string): void => {
          if (id === req.id) check();
        };
        const onProgress = (e: ProgressRecord): void => {
          const r = c.instances.get(req.id);
          if (r?.task_id === e.task_id) sendProgress(e);
        };
        c.events.on('instance', onInstance);
        c.events.on('progress', onProgress);
        signal.addEventListener('abort', finish, { once: true });
        if (first.task_id) for (const e of c.tasks.events(first.task_id)) sendProgress(e);
        check();
      });
    }),

    // Replication (issue 12): control/service/replication.ts.
    promoteToReplicaSource: unary(deps, 'PromoteToReplicaSource', async (req, scope) => ({ taskId: repl.promoteToReplicaSource(c, scope, req.id) })),
    ejectReplicaSource: unary(deps, 'EjectReplicaSource', async (req, scope) => ({ taskId: repl.ejectReplicaSource(c, scope, req.id) })),
    detachReplica: unary(deps, 'DetachReplica', async (req, scope) => ({ taskId: repl.detachReplica(c, scope, req.id) })),
  };
  server.addService(InstanceServiceService, impl as unknown as grpc.UntypedServiceImplementation);
}
