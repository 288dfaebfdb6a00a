// /v1.0/{project_id}/backups: create (full, incremental, with parent_id), list, show, delete.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ControlContext } from '../context.js';
import * as svc from '../service/backups.js';
import { badRequest } from './faults.js';
import { callerOf, linksOf, listBody, pageOf } from './request.js';
import { S } from './schemas.js';
import { backupView } from './views.js';

interface CreateBody {
  backup: { name: string; instance?: string; description?: string | null; parent_id?: string | null; incremental?: boolean | number; restore_from?: object | null; swift_container?: string | null };
}

export function backupRoutes(app: FastifyInstance, c: ControlContext): void {
  const base = '/v1.0/:project_id/backups';
  app.get(base, { schema: { summary: 'List backups', params: S.projectParams, querystring: S.backupQuery } }, async (req) => {
    const q = req.query as { instance_id?: string; datastore?: string; all_projects?: string };
    const page = pageOf(req);
    // An admin token may list every project's backups, as Trove's all_projects.
    const all = req.adminToken && (q.all_projects === 'true' || q.all_projects === 'True' || q.all_projects === '1');
    const caller = all ? { ...callerOf(req), admin: true } : callerOf(req);
    const r = svc.listBackups(c, caller, page, q.instance_id);
    const items = q.datastore ? r.items.filter((b) => b.datastore === q.datastore) : r.items;
    return listBody(req, 'backups', 'backups', items.map((b) => backupView(b, linksOf(req))), page.limit, r.nextMarker);
  });

  app.post(base, { schema: { summary: 'Create a backup (202)', params: S.projectParams, body: S.createBackup } }, async (req, reply) => {
    const b = (req.body as CreateBody).backup;
    if (b.restore_from) throw badRequest('backup.restore_from: importing a backup from another cloud is not available in Coffer yet');
    if (b.swift_container) throw badRequest('backup.swift_container: the storage is chosen by the operator in Coffer');
    if (!b.instance) throw badRequest('backup.instance is required');
    const r = svc.createBackup(c, callerOf(req), { instanceId: b.instance, name: b.name, incremental: b.incremental === true || b.incremental === 1, parentId: b.parent_id ?? '' });
    return reply.code(202).send({ backup: backupView(r.backup, linksOf(req)) });
  });

  app.get(`${base}/:id`, { schema: { summary: 'Show a backup', params: S.idParams } }, async (req: FastifyRequest<{ Params: { project_id: string; id: string } }>) => ({
    backup: backupView(svc.findBackup(c, callerOf(req), req.params.id), linksOf(req)),
  }));

  app.delete(`${base}/:id`, { schema: { summary: 'Delete a backup (202)', params: S.idParams } }, async (req: FastifyRequest<{ Params: { project_id: string; id: string } }>, reply) => {
    await svc.deleteBackup(c, callerOf(req), req.params.id);
    return reply.code(202).send();
  });
}
