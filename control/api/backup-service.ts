// coffer.control.v1.BackupService.
import { randomUUID } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import { BackupKind, BackupServiceService, type BackupServiceServer } from '../../proto/gen/coffer/control/v1/backups.js';
import type { ControlContext } from '../context.js';
import { conflict, invalid, notFound } from '../errors.js';
import type { BackupData } from '../workflows/backup.js';
import { toBackup } from './convert.js';
import { decodePageToken, encodePageToken, pageSize, unary } from './handlers.js';

export function addBackupService(server: grpc.Server, c: ControlContext): void {
  const deps = { db: c.db, log: c.log };
  const impl: BackupServiceServer = {
    createBackup: unary(deps, 'CreateBackup', async (req, scope) => {
      const inst = req.instanceId ? c.instances.get(req.instanceId, scope) : undefined;
      if (!inst) throw notFound('instance', req.instanceId);
      if (inst.status !== 'ACTIVE' || inst.task_id) throw conflict(`instance ${inst.id} is ${inst.status}; a backup needs it ACTIVE with no task running`);
      const kind = req.kind === BackupKind.BACKUP_KIND_INCREMENTAL ? 'INCREMENTAL' : 'FULL';
      let parent = null;
      if (kind === 'INCREMENTAL') {
        parent = req.parentId ? c.backups.get(req.parentId, scope) : c.backups.latestCompleted(inst.id);
        if (!parent) throw invalid(req.parentId ? `parent backup ${req.parentId} does not exist` : `instance ${inst.id} has no completed backup to be incremental to`);
        if (parent.instance_id !== inst.id || parent.status !== 'COMPLETED') throw invalid(`parent backup ${parent.id} must be a COMPLETED backup of instance ${inst.id}`);
      }
      const id = randomUUID();
      const data: BackupData = { backupId: id, instanceId: inst.id, kind, parentArtifact: parent?.artifact ?? null };
      const taskId = c.engine.submit('backup', inst.project, id, data, (tid) => {
        c.backups.insert({ id, project: inst.project, instance_id: inst.id, name: req.name || `backup-${id.slice(0, 8)}`, kind, parent_id: parent?.id ?? null, datastore: inst.datastore, datastore_version: inst.datastore_version });
        c.backups.update(id, { task_id: tid });
        c.instances.update(inst.id, { status: 'BACKUP', task_id: tid });
      });
      c.events.emit('instance', inst.id);
      return { backup: toBackup(c.backups.get(id)!), taskId };
    }),
    listBackups: unary(deps, 'ListBackups', async (req, scope) => {
      const limit = pageSize(req.pageSize);
      const rows = c.backups.list(scope, limit + 1, decodePageToken(req.pageToken), req.instanceId || undefined);
      const page = rows.slice(0, limit);
      return { backups: page.map(toBackup), nextPageToken: rows.length > limit ? encodePageToken(page.at(-1)!.id) : '' };
    }),
    getBackup: unary(deps, 'GetBackup', async (req, scope) => {
      const b = req.id ? c.backups.get(req.id, scope) : undefined;
      if (!b) throw notFound('backup', req.id);
      return { backup: toBackup(b) };
    }),
    deleteBackup: unary(deps, 'DeleteBackup', async (req, scope) => {
      const b = req.id ? c.backups.get(req.id, scope) : undefined;
      if (!b) throw notFound('backup', req.id);
      if (b.task_id) throw conflict(`backup ${b.id} is ${b.status}; wait for its task to finish`);
      // Deleting the stored object goes through the agent's storage
      // strategy (backup issue); until then only the record is removed.
      c.backups.update(b.id, { deleted_at: Date.now() });
      return { taskId: '' };
    }),
  };
  server.addService(BackupServiceService, impl as unknown as grpc.UntypedServiceImplementation);
}
