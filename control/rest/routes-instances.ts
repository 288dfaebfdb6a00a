// /v1.0/{project_id}/instances: list, detail, create, show, rename, delete,
// actions (restart, resize volume, reset_status) and the instance's backups.
import { archiveView, checkRestoreWindow } from '../service/archiving.js';
import { managerOf } from '../workflows/replication/datastores.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Database, User } from '../../proto/gen/coffer/agent/v1/common.js';
import type { ControlContext } from '../context.js';
import * as backups from '../service/backups.js';
import * as svc from '../service/instances.js';
import * as repl from '../service/replication.js';
import * as cfg from '../service/configurations.js';
import { badRequest } from './faults.js';
import { callerOf, linksOf, listBody, pageOf } from './request.js';
import { S } from './schemas.js';
import { archiveFields, backupView, instanceView, versionId } from './views.js';

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
    /** restoreTime (and Coffer's restoreLsn, restoreGtid): a restore to a point, docs/rest.md. */
    restorePoint?: { backupRef: string; restoreTime?: string | null; restoreLsn?: string | null; restoreGtid?: string | null } | null;
    replica_of?: string | null;
    replica_count?: number | null;
    /** Coffer's own (not Trove's): the set's automatic failover. */
    auto_failover?: boolean | null;
    configuration?: string | null;
    modules?: unknown[] | null;
  };
}

export const toDatabase = (d: DatabaseIn): Database => ({ name: d.name, characterSet: d.character_set ?? '', collation: d.collate ?? '' });
export const toUser = (u: UserIn): User => ({ name: u.name, host: u.host || '%', password: u.password, databases: (u.databases ?? []).map((d) => d.name), rules: [] });

/** flavorRef may be an id, a name or a link ending in the id. */
export const flavorRef = (ref: string | number | undefined): string => (ref === undefined ? '' : String(ref).split('/').pop() ?? '');

/** A datastore version given by name or by the UUID-shaped id the API shows. */
export function versionName(c: ControlContext, datastore: string, version: string): string {
  const v = c.catalog.versions(datastore).find((x) => x.name === version || versionId(x.datastore, x.name) === version);
  return v?.name ?? version;
}

/** The REST names of what a replica takes from its source (a refusal names the field sent). */
const REST_FIELD_NAMES: Readonly<Record<repl.SourceField, string>> = {
  datastore: 'instance.datastore',
  datastoreVersion: 'instance.datastore.version',
  flavorId: 'instance.flavorRef',
  volumeSizeGb: 'instance.volume',
  databases: 'instance.databases',
  users: 'instance.users',
  rootPassword: 'instance.root_password',
  overrides: 'instance.overrides',
  backupId: 'instance.restorePoint',
};

function createInput(c: ControlContext, b: CreateBody['instance']): svc.CreateInstanceInput {
  if (b.modules?.length) throw badRequest('instance.modules: modules are not available in Coffer yet');
  const replica = b.replica_of !== undefined && b.replica_of !== null;
  // A replica takes its source's datastore: no default is filled in, so that
  // one given is seen (and refused) by createReplicas.
  const datastore = b.datastore?.type || (replica ? '' : 'mariadb');
  const version = b.datastore?.version ? versionName(c, datastore || 'mariadb', b.datastore.version) : '';
  return {
    name: b.name,
    datastore,
    datastoreVersion: version,
    flavorId: flavorRef(b.flavorRef),
    // Any volume beside replica_of is refused, even one with a size of 0.
    volumeSizeGb: b.volume ? Number(b.volume.size) || (replica ? -1 : 0) : 0,
    databases: (b.databases ?? []).map(toDatabase),
    users: (b.users ?? []).map(toUser),
    backupId: b.restorePoint?.backupRef ?? '',
    restoreTime: b.restorePoint?.restoreTime ?? '',
    restoreLsn: b.restorePoint?.restoreLsn ?? '',
    restoreGtid: b.restorePoint?.restoreGtid ?? '',
    ...(replica ? { replicaOf: b.replica_of! } : {}),
    ...(b.replica_count !== undefined && b.replica_count !== null ? { replicaCount: b.replica_count } : {}),
    ...(b.auto_failover !== undefined && b.auto_failover !== null ? { autoFailover: b.auto_failover } : {}),
    ...(b.configuration ? { configurationId: b.configuration } : {}),
  };
}

interface UpdateBody {
  name?: string;
  configuration?: string | null;
  replica_of?: string | null;
  slave_of?: string | null;
  datastore_version?: string | null;
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

  app.post(`${base}`, { schema: { summary: 'Create an instance, or replicas of one with replica_of (200)', params: S.projectParams, body: S.createInstance } }, async (req) => {
    const body = (req.body as CreateBody).instance;
    const input = createInput(c, body);
    // A restore point outside the archive is refused before anything is built.
    if (body.replica_of === undefined || body.replica_of === null) {
      await checkRestoreWindow(c, callerOf(req), input);
    }
    // With replica_of, Trove answers with the first replica (the others are listed like any instance).
    const { instance } =
      body.replica_of !== undefined && body.replica_of !== null
        ? repl.createReplicas(c, callerOf(req), input, REST_FIELD_NAMES, { replicaOf: 'instance.replica_of', replicaCount: 'instance.replica_count' })
        : svc.createInstance(c, callerOf(req), input);
    return { instance: instanceView(c, instance, linksOf(req)) };
  });

  // One instance's view adds its archive (restorable window, archiving
  // state) from its agent, with a short deadline; lists do not (docs/rest.md).
  app.get(`${base}/:id`, { schema: { summary: 'Show an instance', params: S.instanceParams } }, async (req: IdReq) => {
    const r = svc.findInstance(c, callerOf(req), req.params.id);
    const archive = archiveFields(await archiveView(c, r, managerOf(c, r)));
    return { instance: { ...instanceView(c, r, linksOf(req)), ...archive } };
  });

  app.delete(`${base}/:id`, { schema: { summary: 'Delete an instance (202)', params: S.instanceParams } }, async (req: IdReq, reply) => {
    svc.deleteInstance(c, callerOf(req), req.params.id);
    return reply.code(202).send();
  });

  const update = (put: boolean) => async (req: IdReq, reply: { code(n: number): { send(): unknown } }) => {
    const b = (req.body as { instance: UpdateBody }).instance;
    if (b.datastore_version) throw badRequest('instance.datastore_version: upgrading the datastore version is not available in Coffer yet');
    for (const key of ['replica_of', 'slave_of'] as const) {
      if (b[key] !== undefined && b[key] !== null) {
        throw badRequest(`instance.${key}: only null is accepted here (detach the replica); to make a replica, create one with replica_of`);
      }
    }
    // Trove's client detaches with {"replica_of": null} (older ones {"slave_of": null}).
    const detach = ('replica_of' in b && b.replica_of === null) || ('slave_of' in b && b.slave_of === null);
    const caller = callerOf(req);
    if (b.name !== undefined) svc.renameInstance(c, caller, req.params.id, b.name);
    if (detach) repl.detachReplica(c, caller, req.params.id);
    // Trove's: {"configuration": ID} attaches a group, {"configuration": null}
    // detaches it (the CLI's detach), and so does a PUT of {} (Trove's PUT
    // sets the configuration to what the body names: none).
    const hasConfiguration = 'configuration' in b;
    if (hasConfiguration && b.configuration) cfg.attachConfiguration(c, caller, req.params.id, b.configuration);
    else if ((hasConfiguration && b.configuration === null) || (put && Object.keys(b).length === 0)) cfg.detachConfiguration(c, caller, req.params.id);
    if (b.name === undefined && !detach && !hasConfiguration) svc.findInstance(c, caller, req.params.id);
    return reply.code(202).send();
  };
  app.put(`${base}/:id`, { schema: { summary: 'Update an instance: name, attach or detach a configuration group, or detach a replica with replica_of null (202)', params: S.instanceParams, body: S.updateInstance } }, update(true));
  app.patch(`${base}/:id`, { schema: { summary: 'Update an instance: name, attach or detach a configuration group, or detach a replica with replica_of null (202)', params: S.instanceParams, body: S.updateInstance } }, update(false));

  app.post(`${base}/:id/action`, { schema: { summary: 'Instance action: restart, resize volume, reset_status, promote_to_replica_source, eject_replica_source (202)', params: S.instanceParams, body: S.action } }, async (req: IdReq, reply) => {
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
      case 'promote_to_replica_source':
        repl.promoteToReplicaSource(c, caller, req.params.id);
        break;
      case 'eject_replica_source':
        repl.ejectReplicaSource(c, caller, req.params.id);
        break;
      case 'resize': {
        const r = body.resize as { volume?: { size: number | string }; flavorRef?: unknown };
        if (!r.volume) throw badRequest('resize.flavorRef: resizing the flavor is not available in Coffer yet; resize.volume.size is');
        svc.resizeVolume(c, caller, req.params.id, Number(r.volume.size));
        break;
      }
      default:
        throw badRequest(`unknown action "${action}": use restart, resize, reset_status, promote_to_replica_source or eject_replica_source`);
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
