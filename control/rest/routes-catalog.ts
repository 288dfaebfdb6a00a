// /v1.0/{project_id}/datastores, /flavors and /limits: the catalog (shared by
// every project) and the caller's limits.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ControlContext } from '../context.js';
import { notFound } from '../errors.js';
import * as svc from '../service/catalog.js';
import { callerOf, linksOf, MAX_PAGE } from './request.js';
import { S } from './schemas.js';
import { datastoreView, flavorView, nameId, versionId, versionView } from './views.js';

type P<T = object> = FastifyRequest<{ Params: { project_id: string; id: string } & T }>;

/** A datastore by name or by the UUID-shaped id the API shows. */
function datastoreByRef(c: ControlContext, ref: string): svc.DatastoreView {
  const d = svc.listDatastores(c).find((x) => x.name === ref || nameId('datastore', x.name) === ref);
  if (!d) throw notFound('datastore', ref);
  return d;
}

export function catalogRoutes(app: FastifyInstance, c: ControlContext): void {
  const base = '/v1.0/:project_id';
  app.get(`${base}/datastores`, { schema: { summary: 'List datastores', params: S.projectParams } }, async (req) => ({
    datastores: svc.listDatastores(c).map((d) => datastoreView(d, linksOf(req))),
  }));
  app.get(`${base}/datastores/:id`, { schema: { summary: 'Show a datastore (by name or id)', params: S.idParams } }, async (req: P) => ({
    datastore: datastoreView(datastoreByRef(c, req.params.id), linksOf(req)),
  }));
  app.get(`${base}/datastores/:id/versions`, { schema: { summary: 'List a datastore\'s versions', params: S.idParams } }, async (req: P) => ({
    versions: datastoreByRef(c, req.params.id).versions.map((v) => versionView(v, linksOf(req))),
  }));
  app.get(`${base}/datastores/:id/versions/:version`, { schema: { summary: 'Show a datastore version (by name or id)', params: S.versionParams } }, async (req: P<{ version: string }>) => {
    const v = datastoreByRef(c, req.params.id).versions.find((x) => x.name === req.params.version || versionId(x.datastore, x.name) === req.params.version);
    if (!v) throw notFound('datastore version', req.params.version);
    return { version: versionView(v, linksOf(req)) };
  });
  app.get(`${base}/datastores/versions/:id`, { schema: { summary: 'Show a datastore version by id', params: S.idParams } }, async (req: P) => {
    const v = svc.listDatastores(c).flatMap((d) => d.versions).find((x) => versionId(x.datastore, x.name) === req.params.id);
    if (!v) throw notFound('datastore version', req.params.id);
    return { version: versionView(v, linksOf(req)) };
  });

  app.get(`${base}/flavors`, { schema: { summary: 'List flavors', params: S.projectParams } }, async (req) => ({
    flavors: svc.listFlavors(c).map((f) => flavorView(f, linksOf(req))),
  }));
  app.get(`${base}/flavors/:id`, { schema: { summary: 'Show a flavor', params: S.idParams } }, async (req: P) => ({
    flavor: flavorView(svc.getFlavor(c, req.params.id), linksOf(req)),
  }));
  app.get(`${base}/datastores/:id/versions/:version/flavors`, { schema: { summary: 'Flavors usable with a datastore version (all of them)', params: S.versionParams } }, async (req: P<{ version: string }>) => ({
    flavors: svc.listFlavors(c).map((f) => flavorView(f, linksOf(req))),
  }));

  // Coffer has no quotas yet: the maxima are -1 (unlimited), as Trove shows
  // an unlimited quota, with what the project uses now.
  app.get(`${base}/limits`, { schema: { summary: 'The project\'s limits', params: S.projectParams } }, async (req) => {
    const caller = callerOf(req);
    const instances = c.instances.list(caller, MAX_PAGE * 100, '');
    const backups = c.backups.list(caller, MAX_PAGE * 100, '');
    return {
      limits: [
        {
          verb: 'ABSOLUTE',
          max_instances: -1,
          max_backups: -1,
          max_volumes: -1,
          total_instances_used: instances.length,
          total_backups_used: backups.length,
          total_volumes_used: instances.reduce((n, i) => n + i.volume_size_gb, 0),
        },
      ],
    };
  });
}
