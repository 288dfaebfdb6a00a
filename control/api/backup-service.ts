// coffer.control.v1.BackupService over the service layer (control/service/backups.ts).
import type * as grpc from '@grpc/grpc-js';
import { BackupKind, BackupServiceService, type BackupServiceServer } from '../../proto/gen/coffer/control/v1/backups.js';
import type { ControlContext } from '../context.js';
import * as svc from '../service/backups.js';
import { toBackup } from './convert.js';
import { decodePageToken, encodePageToken, pageSize, unary } from './handlers.js';

export function addBackupService(server: grpc.Server, c: ControlContext): void {
  const deps = { db: c.db, log: c.log };
  const impl: BackupServiceServer = {
    createBackup: unary(deps, 'CreateBackup', async (req, scope) => {
      // The kind decides; a parent_id on a FULL request is ignored, as before.
      const incremental = req.kind === BackupKind.BACKUP_KIND_INCREMENTAL;
      const r = svc.createBackup(c, scope, { instanceId: req.instanceId, name: req.name, incremental, parentId: incremental ? req.parentId : '' });
      return { backup: toBackup(r.backup), taskId: r.taskId };
    }),
    listBackups: unary(deps, 'ListBackups', async (req, scope) => {
      const page = svc.listBackups(c, scope, { limit: pageSize(req.pageSize), marker: decodePageToken(req.pageToken) }, req.instanceId);
      return { backups: page.items.map(toBackup), nextPageToken: page.nextMarker ? encodePageToken(page.nextMarker) : '' };
    }),
    getBackup: unary(deps, 'GetBackup', async (req, scope) => ({ backup: toBackup(svc.findBackup(c, scope, req.id)) })),
    deleteBackup: unary(deps, 'DeleteBackup', async (req, scope) => (await svc.deleteBackup(c, scope, req.id), { taskId: '' })),
  };
  server.addService(BackupServiceService, impl as unknown as grpc.UntypedServiceImplementation);
}
