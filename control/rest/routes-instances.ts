// /v1.0/{project_id}/instances: list, detail, create, show, rename, delete,
// actions (restart, resize volume, reset_status) and the instance's backups.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Database, User } from '../../proto/gen/coffer/agent/v1/common.js';
import type { ControlContext } from '../context.js';
import * as backups from '../service/backups.js';
import * as svc from '../service/instances.js';
import { badRequest } from './faults.js';
import { callerOf, linksOf, listBody, pageOf } from './request.js';
import { S } from './schemas.js';
import { backupView, instanceView, versionId } from './views.js';

interface DatabaseIn {
  name: string;
  character_set?: string | null;
  collate?: string | null;
}

interface UserIn {
  name: string;
  password: string;
  host?: string | null;
  databases?: DatabaseIn[];
}

interface CreateBody {
  instance: {
    name: string;
    flavorRef?: string | number;
    volume?: { size: number | string } | null;
    datastore?: { type?: string | null; version?: string | null } | null;
    databases?: DatabaseIn[] | null;
    users?: UserIn[] | null;
    restorePoint?: { backupRef: string } | null;
    replica_of?: string | null;
    replica_count?: number | null;
    configuration?: string | null;
    modules?: unknown[] | null;
  };
}

export const toDatabase = (d: DatabaseIn): Database => ({ name: d.name, characterSet: d.character_set ?? '', collation: d.collate ?? '' });
export const toUser = (u: UserIn): User => ({ name: u.name, host: u.host || '%', password: u.password, databases: (u.databases ?? []).map((d) => d.name), rules: [] });

/** flavorRef may be an id, a name or a link ending in the id. */
const flavorRef = (ref: string | number | undefined): string => (ref === undefined ? '' : String(ref).split('/').pop() ?? '');

/** A datastore version given by name or by the UUID-shaped id the API shows. */
function versionName(c: ControlContext, datastore: string, version: string): string {
  const v = c.catalog.versions(datastore).find((x) => x.name === version || versionId(x.datastore, x.name) === version);
  return v?.name ?? version;
}

function createInput(c: ControlContext, b: CreateBody['instance']): svc.CreateInstanceInput {
  if (b.replica_of || (b.replica_count ?? 0) > 1) throw badRequest('instance.replica_of: replication is not available in Coffer yet');
  if (b.configuration) throw badRequest('instance.configuration: configuration groups are not available in Coffer yet');
  if (b.modules?.length) throw badRequest('instance.modules: modules are not available in Coffer yet');
  const datastore = b.datastore?.type || 'mariadb';
  const version = b.datastore?.version ? versionName(c, datastore, b.datastore.version) : '';
  return {
    name: b.name,
    datastore,
    datastoreVersion: version,
    flavorId: flavorRef(b.flavorRef),
    volumeSizeGb: b.volume ? Number(b.volume.size) : 0,
    databases: (b.databases ?? []).map(toDatabase),
    users: (b.users ?? []).map(toUser),
    backupId: b.restorePoint?.backupRef ?? '',
  };
}

type IdReq = FastifyRequest<{ Params: { project_id: string; id: string } }>;

export function instanceRoutes(app: FastifyInstance, c: ControlContext): void {
  const base = '/v1.0/:project_id/instances';
  const list = (detail: boolean) => async (req: FastifyRequest) => {
    const page = pageOf(req);
    const r = svc.listInstances(c, callerOf(req), page);
    return listBody(req, 'instances', detail ? 'instances/detail' : 'instances', r.items.map((i) => instanceView(c, i, linksOf(req), detail)), page.limit, r.nextMarker);
  };
  app.get(base, { schema: { summary: 'List instances', params: S.projectParams, querystring: S.page } }, list(false));
  app.get(`${base}/detail`, { schema: { summary: 'List instances with details', params: S.projectParams, querystring: S.page } }, list(true));

  app.post(`${base}`, { schema: { summary: 'Create an instance (200)', params: S.projectParams, body: S.createInstance } }, async (req) => {
    const { instance } = svc.createInstance(c, callerOf(req), createInput(c, (req.body as CreateBody).instance));
    return { instance: instanceView(c, instance, linksOf(req)) };
  });

  app.get(`${base}/:id`, { schema: { summary: 'Show an instance', params: S.instanceParams } }, async (req: IdReq) => ({
    instance: instanceView(c, svc.findInstance(c, callerOf(req), req.params.id), linksOf(req)),
  }));

  app.delete(`${base}/:id`, { schema: { summary: 'Delete an instance (202)', params: S.instanceParams } }, async (req: IdReq, reply) => {
    svc.deleteInstance(c, callerOf(req), req.params.id);
    return reply.code(202).send();
  });

  const update = async (req: IdReq, reply: { code(n: number): { send(): unknown } }) => {
    const b = (req.body as { instance: { name?: string; configuration?: string | null; replica_of?: string | null; datastore_version?: string | null } }).instance;
    if (b.configuration) throw badRequest('instance.configuration: configuration groups are not available in Coffer yet');
    if (b.datastore_version) throw badRequest('instance.datastore_version: upgrading the datastore version is not available in Coffer yet');
    if (b.replica_of) throw badRequest('instance.replica_of: replication is not available in Coffer yet');
    if (b.name === undefined) {
      // Trove's client sends {"configuration": null} to detach a configuration
      // and {"replica_of": null} to detach a replica: nothing to do in Coffer.
      svc.findInstance(c, callerOf(req), req.params.id);
    } else {
      svc.renameInstance(c, callerOf(req), req.params.id, b.name);
    }
    return reply.code(202).send();
  };
  app.put(`${base}/:id`, { schema: { summary: 'Update an instance: name (202)', params: S.instanceParams, body: S.updateInstance } }, update);
  app.patch(`${base}/:id`, { schema: { summary: 'Update an instance: name (202)', params: S.instanceParams, body: S.updateInstance } }, update);

  app.post(`${base}/:id/action`, { schema: { summary: 'Instance action: restart, resize volume, reset_status (202)', params: S.instanceParams, body: S.action } }, async (req: IdReq, reply) => {
    const body = req.body as Record<string, unknown>;
    const action = Object.keys(body)[0]!;
    const caller = callerOf(req);
    // Another project's (or no) instance is 404 whatever the action says.
    svc.findInstance(c, caller, req.params.id);
    switch (action) {
      case 'restart':
        svc.restartInstance(c, caller, req.params.id);
        break;
      case 'reset_status':
        svc.resetStatus(c, caller, req.params.id);
        break;
      case 'resize': {
        const r = body.resize as { volume?: { size: number | string }; flavorRef?: unknown };
        if (!r.volume) throw badRequest('resize.flavorRef: resizing the flavor is not available in Coffer yet; resize.volume.size is');
        svc.resizeVolume(c, caller, req.params.id, Number(r.volume.size));
        break;
      }
      default:
        throw badRequest(`unknown action "${action}": use restart, resize or reset_status`);
    }
    return reply.code(202).send();
  });

  app.get(`${base}/:id/backups`, { schema: { summary: 'List an instance\'s backups', params: S.instanceParams, querystring: S.page } }, async (req: IdReq) => {
    const caller = callerOf(req);
    const inst = svc.findInstance(c, caller, req.params.id);
    const page = pageOf(req);
    const r = backups.listBackups(c, caller, page, inst.id);
    return listBody(req, 'backups', `instances/${inst.id}/backups`, r.items.map((b) => backupView(b, linksOf(req))), page.limit, r.nextMarker);
  });
}
