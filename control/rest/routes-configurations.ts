// /v1.0/{project_id}/configurations (Trove's configuration groups), the
// parameters a group of a datastore version may set, and an instance's
// configuration in force. Attaching and detaching are PUT /instances/{id}
// (routes-instances.ts).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Parameter } from '../../proto/gen/coffer/agent/v1/configuration.js';
import type { ControlContext } from '../context.js';
import { notFound } from '../errors.js';
import { ruleOf } from '../../strategies/configuration/rules.js';
import { valuesOf, type ConfigurationRow } from '../store/configurations.js';
import * as svc from '../service/configurations.js';
import { listDatastores } from '../service/catalog.js';
import { callerOf, listBody, pageOf } from './request.js';
import { S } from './schemas.js';
import { nameId, time, versionId } from './views.js';
import { versionName } from './routes-instances.js';

type P<T = object> = FastifyRequest<{ Params: { project_id: string; id: string } & T }>;

/**
 * Trove's client sends values as JSON types (json.loads of the CLI's
 * argument): numbers and booleans become the text the rules read; any
 * other type is passed on for the rules to refuse, naming the parameter.
 */
function valuesIn(values: Record<string, unknown>): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(values)) out[k] = (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean' ? String(v) : (v as string);
  return out;
}

/** Numbers as JSON numbers, as Trove shows them; the rest (ON, 16MB, InnoDB) as text. */
function valuesOut(c: ControlContext, g: ConfigurationRow): Record<string, string | number> {
  const rules = svc.rulesOf(c, g.datastore, g.datastore_version);
  const out: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(valuesOf(g))) {
    const type = ruleOf(rules, k)?.type;
    out[k] = (type === 'integer' || type === 'float') && /^-?\d+(\.\d+)?$/.test(v) && Number.isSafeInteger(Math.trunc(Number(v))) ? Number(v) : v;
  }
  return out;
}

function configurationView(c: ControlContext, g: ConfigurationRow, detail: boolean): Record<string, unknown> {
  const v: Record<string, unknown> = {
    id: g.id,
    name: g.name,
    description: g.description,
    created: time(g.created_at),
    updated: time(g.updated_at),
    datastore_name: g.datastore,
    datastore_version_id: versionId(g.datastore, g.datastore_version),
    datastore_version_name: g.datastore_version,
    datastore_version_number: g.datastore_version,
  };
  if (!detail) return v;
  v.values = valuesOut(c, g);
  v.instance_count = c.configurations.instanceCount(g.id);
  return v;
}

/** Trove's parameter: its type, bounds (in the parameter's base unit) and whether a change waits for a restart. */
function parameterView(p: Parameter, datastore: string, version: string): Record<string, unknown> {
  const v: Record<string, unknown> = { name: p.name, type: p.type, restart_required: !p.dynamic, datastore_version_id: versionId(datastore, version) };
  const num = (s: string): number | string => (/^-?\d+(\.\d+)?$/.test(s) ? Number(s) : s);
  if (p.min) v.min = num(p.min.replace(/[A-Za-z]+$/, ''));
  if (p.max) v.max = num(p.max.replace(/[A-Za-z]+$/, ''));
  const unit = /[A-Za-z]+$/.exec(p.min || p.max)?.[0];
  if (unit) v.unit = unit;
  if (p.allowedValues.length) v.allowed_values = p.allowedValues;
  if (p.description) v.description = p.description;
  return v;
}

/** A datastore version by datastore (name or id) and version (name or id). */
function versionByRef(c: ControlContext, ds: string, version: string): { datastore: string; version: string } {
  const d = listDatastores(c).find((x) => x.name === ds || nameId('datastore', x.name) === ds);
  if (!d) throw notFound('datastore', ds);
  const v = d.versions.find((x) => x.name === version || versionId(x.datastore, x.name) === version);
  if (!v) throw notFound('datastore version', version);
  return { datastore: d.name, version: v.name };
}

/** A datastore version by the UUID-shaped id alone (the CLI without --datastore). */
function versionById(c: ControlContext, id: string): { datastore: string; version: string } {
  const v = listDatastores(c).flatMap((d) => d.versions).find((x) => versionId(x.datastore, x.name) === id);
  if (!v) throw notFound('datastore version', id);
  return { datastore: v.datastore, version: v.name };
}

export function configurationRoutes(app: FastifyInstance, c: ControlContext): void {
  const base = '/v1.0/:project_id/configurations';
  app.get(base, { schema: { summary: 'List configuration groups', params: S.projectParams, querystring: S.page } }, async (req) => {
    const page = pageOf(req);
    const r = svc.listConfigurations(c, callerOf(req), page);
    return listBody(req, 'configurations', 'configurations', r.items.map((g) => configurationView(c, g, false)), page.limit, r.nextMarker);
  });

  app.post(base, { schema: { summary: 'Create a configuration group (200)', params: S.projectParams, body: S.createConfiguration } }, async (req) => {
    const b = (req.body as { configuration: { name: string; description?: string | null; values: Record<string, unknown>; datastore?: { type?: string | null; version?: string | null } | null } }).configuration;
    const datastore = b.datastore?.type || 'mariadb';
    const g = svc.createConfiguration(c, callerOf(req), {
      name: b.name,
      description: b.description ?? '',
      datastore,
      datastoreVersion: b.datastore?.version ? versionName(c, datastore, b.datastore.version) : '',
      values: valuesIn(b.values),
    });
    return { configuration: configurationView(c, g, true) };
  });

  app.get(`${base}/:id`, { schema: { summary: 'Show a configuration group', params: S.idParams } }, async (req: P) => ({
    configuration: configurationView(c, svc.findConfiguration(c, callerOf(req), req.params.id), true),
  }));

  app.get(`${base}/:id/instances`, { schema: { summary: 'The instances a configuration group is attached to', params: S.idParams, querystring: S.page } }, async (req: P) => {
    const page = pageOf(req);
    const r = svc.configurationInstances(c, callerOf(req), req.params.id, page);
    return listBody(req, 'instances', `configurations/${req.params.id}/instances`, r.items.map((i) => ({ id: i.id, name: i.name })), page.limit, r.nextMarker);
  });

  type Change = { configuration: { values: Record<string, unknown>; name?: string; description?: string | null } };
  app.patch(`${base}/:id`, { schema: { summary: 'Merge values into a configuration group and re-apply it to its instances (200)', params: S.idParams, body: S.updateConfiguration } }, async (req: P, reply) => {
    const b = (req.body as Change).configuration;
    svc.updateConfiguration(c, callerOf(req), req.params.id, { values: valuesIn(b.values), replace: false });
    return reply.code(200).send();
  });
  app.put(`${base}/:id`, { schema: { summary: 'Replace a configuration group\'s values (and name, description) and re-apply it (202)', params: S.idParams, body: S.updateConfiguration } }, async (req: P, reply) => {
    const b = (req.body as Change).configuration;
    svc.updateConfiguration(c, callerOf(req), req.params.id, { values: valuesIn(b.values), replace: true, name: b.name, description: b.description ?? undefined });
    return reply.code(202).send();
  });
  app.delete(`${base}/:id`, { schema: { summary: 'Delete a configuration group no instance is attached to (202)', params: S.idParams } }, async (req: P, reply) => {
    svc.deleteConfiguration(c, callerOf(req), req.params.id);
    return reply.code(202).send();
  });

  app.get('/v1.0/:project_id/instances/:id/configuration', { schema: { summary: 'The configuration values in force on an instance', params: S.instanceParams } }, async (req: P) => ({
    instance: { configuration: (await svc.instanceConfiguration(c, callerOf(req), req.params.id)).values },
  }));

  const list = (v: { datastore: string; version: string }) => ({
    'configuration-parameters': svc.listParameters(c, v.datastore, v.version).map((p) => parameterView(p, v.datastore, v.version)),
  });
  const one = (v: { datastore: string; version: string }, name: string) => {
    const p = svc.listParameters(c, v.datastore, v.version).find((x) => x.name === name);
    if (!p) throw notFound('configuration parameter', `${name} of ${v.datastore} ${v.version}`);
    return parameterView(p, v.datastore, v.version);
  };
  const ds = '/v1.0/:project_id/datastores';
  app.get(`${ds}/:id/versions/:version/parameters`, { schema: { summary: 'The parameters a configuration group of this version may set', params: S.versionParams } }, async (req: P<{ version: string }>) =>
    list(versionByRef(c, req.params.id, req.params.version)),
  );
  app.get(`${ds}/:id/versions/:version/parameters/:name`, { schema: { summary: 'One configuration parameter', params: S.parameterParams } }, async (req: P<{ version: string; name: string }>) =>
    one(versionByRef(c, req.params.id, req.params.version), req.params.name),
  );
  app.get(`${ds}/versions/:id/parameters`, { schema: { summary: 'The parameters of a datastore version given by id', params: S.idParams } }, async (req: P) => list(versionById(c, req.params.id)));
  app.get(`${ds}/versions/:id/parameters/:name`, { schema: { summary: 'One configuration parameter of a datastore version given by id', params: S.versionParameterParams } }, async (req: P<{ name: string }>) =>
    one(versionById(c, req.params.id), req.params.name),
  );
}
