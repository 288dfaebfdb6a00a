// coffer.control.v1.InstanceService.
import { randomUUID } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import { InstanceServiceService, type InstanceServiceServer, type CreateInstanceRequest, type WatchInstanceResponse } from '../../proto/gen/coffer/control/v1/instances.js';
import type { ControlContext } from '../context.js';
import { conflict, ControlError, invalid, notFound } from '../errors.js';
import type { ProgressRecord } from '../events.js';
import type { InstanceRow } from '../store/instances.js';
import type { Scope } from '../store/scope.js';
import type { CreateData } from '../workflows/create.js';
import { toInstance, toTaskEvent } from './convert.js';
import { decodePageToken, encodePageToken, pageSize, serverStream, unary } from './handlers.js';

const STABLE = new Set(['ACTIVE', 'ERROR', 'SHUTDOWN']);

export function addInstanceService(server: grpc.Server, c: ControlContext): void {
  const deps = { db: c.db, log: c.log };
  const view = (r: InstanceRow) => toInstance(r, c.instances, c.config.heartbeatExpiryMs);
  const find = (id: string, scope: Scope): InstanceRow => {
    const r = id ? c.instances.get(id, scope) : undefined;
    if (!r) throw notFound('instance', id);
    return r;
  };
  /** Starts a task on an instance that has none running, setting its status. */
  const startTask = (r: InstanceRow, kind: string, status: InstanceRow['status'], data: object): string => {
    const allowed = kind === 'delete' ? ['ACTIVE', 'ERROR', 'SHUTDOWN'] : ['ACTIVE'];
    if (r.task_id || !allowed.includes(r.status)) {
      throw conflict(`instance ${r.id} is ${r.status}${r.task_id ? ` (task ${r.task_id} running)` : ''}; ${kind} needs it ${allowed.join(' or ')}`);
    }
    const id = c.engine.submit(kind, r.project, r.id, data, (taskId) => c.instances.update(r.id, { status, task_id: taskId }));
    c.events.emit('instance', r.id);
    return id;
  };

  const impl: InstanceServiceServer = {
    createInstance: unary(deps, 'CreateInstance', async (req: CreateInstanceRequest, scope) => {
      const name = req.name.trim();
      if (!name || name.length > 255) throw invalid('name is required (1-255 characters)');
      const datastore = req.datastore || 'mariadb';
      const version = req.datastoreVersion || c.catalog.defaultVersion(datastore);
      if (!version) throw invalid(`datastore "${datastore}" is not known; see ListDatastores`);
      const v = c.catalog.version(datastore, version);
      if (!v) throw invalid(`datastore version ${datastore} ${version} is not known; see ListDatastoreVersions`);
      if (!v.active) throw new ControlError('CONTROL_ERR_UNAVAILABLE', `${datastore} ${version} is registered but not available yet (no agent manager for it)`);
      const flavor = req.flavorId ? c.catalog.flavor(req.flavorId) : c.catalog.flavors()[0];
      if (!flavor) throw invalid(`flavor "${req.flavorId}" is not known; see ListFlavors`);
      if (req.volumeSizeGb < 0 || req.volumeSizeGb > 16_384) throw invalid('volume_size_gb must be 1-16384');
      const volumeGb = req.volumeSizeGb || 1;
      let restore: CreateData['restore'] = null;
      if (req.backupId) {
        const b = c.backups.get(req.backupId, scope);
        if (!b) throw notFound('backup', req.backupId);
        if (b.status !== 'COMPLETED' || !b.artifact) throw conflict(`backup ${b.id} is ${b.status}; only a COMPLETED backup can be restored`);
        if (b.datastore !== datastore) throw invalid(`backup ${b.id} is of ${b.datastore}, not ${datastore}`);
        restore = { backupId: b.id, artifact: b.artifact };
      }
      const id = randomUUID();
      const data: CreateData = {
        instanceId: id,
        manager: v.manager,
        managerVersion: v.manager_version,
        resources: { vcpus: flavor.vcpus, ramMb: flavor.ram_mb, volumeGb },
        prepare: { rootPassword: req.rootPassword, databases: req.databases, users: req.users, overrides: req.overrides },
        restore,
      };
      const taskId = c.engine.submit('create', scope.project, id, data, (tid) => {
        c.instances.insert({ id, project: scope.project, name, datastore, datastore_version: version, flavor_id: flavor.id, volume_size_gb: volumeGb, restored_from_backup_id: restore?.backupId ?? null });
        c.instances.update(id, { task_id: tid });
      });
      return { instance: view(c.instances.get(id)!), taskId };
    }),

    listInstances: unary(deps, 'ListInstances', async (req, scope) => {
      const limit = pageSize(req.pageSize);
      const rows = c.instances.list(scope, limit + 1, decodePageToken(req.pageToken));
      const page = rows.slice(0, limit);
      return { instances: page.map(view), nextPageToken: rows.length > limit ? encodePageToken(page.at(-1)!.id) : '' };
    }),

    getInstance: unary(deps, 'GetInstance', async (req, scope) => ({ instance: view(find(req.id, scope)) })),

    deleteInstance: unary(deps, 'DeleteInstance', async (req, scope) => ({
      taskId: startTask(find(req.id, scope), 'delete', 'DELETING', { instanceId: req.id }),
    })),

    restartInstance: unary(deps, 'RestartInstance', async (req, scope) => ({
      taskId: startTask(find(req.id, scope), 'restart', 'REBOOT', { instanceId: req.id }),
    })),

    resizeVolume: unary(deps, 'ResizeVolume', async (req, scope) => {
      const r = find(req.id, scope);
      if (req.volumeSizeGb <= r.volume_size_gb) throw invalid(`volume_size_gb must be larger than the current ${r.volume_size_gb} GB`);
      return { taskId: startTask(r, 'resize', 'RESIZE', { instanceId: r.id, volumeGb: req.volumeSizeGb }) };
    }),

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
  };
  server.addService(InstanceServiceService, impl as unknown as grpc.UntypedServiceImplementation);
}
