// /v1.0/{project_id}/clusters: create, list, show, a member's detail,
// delete, and the actions grow, shrink and reset-status, in Trove's shapes
// (what python-troveclient 8.0.0 sends and reads). Validation of what a
// cluster may be (sizes, flavors, datastores) is the service's
// (control/service/clusters.ts); this file turns the body into its input and
// refuses what no service call could take, naming the field.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ControlContext } from '../context.js';
import * as svc from '../service/clusters.js';
import type { Caller } from '../service/caller.js';
import { badRequest, RestError } from './faults.js';
import { callerOf, linksOf, listBody, pageOf } from './request.js';
import { flavorRef, versionName } from './routes-instances.js';
import { S } from './schemas.js';
import { clusterView, instanceView } from './views.js';

interface MemberIn {
  flavorRef: string | number;
  volume?: { size: number | string; type?: string | null };
  type?: string | string[];
  nics?: unknown[] | null;
  availability_zone?: string | null;
  modules?: unknown[] | null;
  name?: string;
  related_to?: string | null;
}

interface CreateBody {
  cluster: {
    name: string;
    datastore: { type: string; version?: string | null };
    instances: MemberIn[];
    locality?: string | null;
    extended_properties?: Record<string, unknown> | null;
    configuration?: string | null;
  };
}

/** The actions POST /clusters/{id} takes; Trove's add_shard and upgrade are not Coffer's. */
const ACTIONS = ['grow', 'shrink', 'reset-status'] as const;
type Action = (typeof ACTIONS)[number];

/** A member's type, a string or (troveclient) a list of one: Galera's "member" is no role. */
function roleOf(m: MemberIn, field: string): string {
  const t = Array.isArray(m.type) ? m.type[0] : m.type;
  if (t === undefined || t === 'member') return '';
  if (t !== 'master' && t !== 'replica') throw badRequest(`${field}.type: "${t}" is not a member type; use member (Galera), master or replica (Redis Cluster)`);
  return t;
}

function memberInput(m: MemberIn, field: string): svc.ClusterMemberInput {
  if (m.modules?.length) throw badRequest(`${field}.modules: modules are not available in Coffer yet`);
  if (m.name !== undefined) throw badRequest(`${field}.name: Coffer names members itself (CLUSTER-member-N); leave name out`);
  return {
    flavorId: flavorRef(m.flavorRef),
    volumeSizeGb: m.volume ? Number(m.volume.size) : 0,
    role: roleOf(m, field),
    ...(m.availability_zone ? { availabilityZone: m.availability_zone } : {}),
  };
}

function createInput(c: ControlContext, b: CreateBody['cluster']): svc.CreateClusterInput {
  const props = Object.keys(b.extended_properties ?? {});
  if (props.length) throw badRequest(`cluster.extended_properties: ${props.join(', ')} ${props.length === 1 ? 'is' : 'are'} not a property of Coffer's clusters (none is taken)`);
  const datastore = b.datastore.type;
  return {
    name: b.name,
    datastore,
    datastoreVersion: b.datastore.version ? versionName(c, datastore, b.datastore.version) : '',
    instances: b.instances.map((m, i) => memberInput(m, `cluster.instances[${i}]`)),
    ...(b.configuration ? { configurationId: b.configuration } : {}),
  };
}

/** The one action of a body, or a 400 that says what is wrong with it. */
function actionOf(body: Record<string, unknown>): Action {
  const keys = Object.keys(body);
  const list = ACTIONS.join(', ');
  if (keys.length === 0) throw badRequest(`the request body names no action: send one of ${list}`);
  const unknown = keys.find((k) => !(ACTIONS as readonly string[]).includes(k));
  if (unknown !== undefined) throw badRequest(`unknown action "${unknown}": use one of ${list}`);
  if (keys.length > 1) throw badRequest(`the request body names ${keys.length} actions (${keys.join(', ')}): send exactly one`);
  return keys[0] as Action;
}

type IdReq = FastifyRequest<{ Params: { project_id: string; id: string } }>;

const viewOf = (c: ControlContext, caller: Caller, id: string): svc.ClusterView => {
  const cluster = svc.findCluster(c, caller, id);
  return { cluster, members: svc.clusterMembers(c, cluster.id) };
};

export function clusterRoutes(app: FastifyInstance, c: ControlContext): void {
  const base = '/v1.0/:project_id/clusters';

  app.get(base, { schema: { summary: 'List clusters', params: S.projectParams, querystring: S.page } }, async (req) => {
    const page = pageOf(req);
    const r = svc.listClusters(c, callerOf(req), page);
    const items = r.items.map((cluster) => clusterView(c, { cluster, members: svc.clusterMembers(c, cluster.id) }, linksOf(req), false));
    return listBody(req, 'clusters', 'clusters', items, page.limit, r.nextMarker);
  });

  app.post(base, { schema: { summary: 'Create a cluster (200)', params: S.projectParams, body: S.createCluster } }, async (req) => {
    const input = createInput(c, (req.body as CreateBody).cluster);
    const v = svc.createCluster(c, callerOf(req), input, svc.REST_CLUSTER_FIELDS);
    return { cluster: clusterView(c, v, linksOf(req), false) };
  });

  app.get(`${base}/:id`, { schema: { summary: 'Show a cluster', params: S.clusterParams } }, async (req: IdReq) => {
    const v = viewOf(c, callerOf(req), req.params.id);
    return { cluster: clusterView(c, v, linksOf(req), true) };
  });

  app.get(`${base}/:id/instances/:instance_id`, { schema: { summary: 'Show a member of a cluster', params: S.clusterInstanceParams } }, async (req: FastifyRequest<{ Params: { project_id: string; id: string; instance_id: string } }>) => {
    const v = viewOf(c, callerOf(req), req.params.id);
    const m = v.members.find((x) => x.id === req.params.instance_id);
    if (!m) throw new RestError(404, `instance ${req.params.instance_id} is not a member of cluster ${v.cluster.name} (${v.cluster.id})`);
    return { instance: instanceView(c, m, linksOf(req)) };
  });

  app.delete(`${base}/:id`, { schema: { summary: 'Delete a cluster and its members (202)', params: S.clusterParams } }, async (req: IdReq, reply) => {
    svc.deleteCluster(c, callerOf(req), req.params.id);
    return reply.code(202).send();
  });

  app.post(`${base}/:id`, { schema: { summary: 'Cluster action: grow, shrink or reset-status (202)', params: S.clusterParams, body: S.clusterAction } }, async (req: IdReq, reply) => {
    const body = req.body as { grow?: MemberIn[]; shrink?: Array<{ id: string }> };
    const action = actionOf(body);
    const caller = callerOf(req);
    let v: svc.ClusterView;
    switch (action) {
      case 'grow':
        v = svc.growCluster(c, caller, req.params.id, body.grow!.map((m, i) => memberInput(m, `grow[${i}]`)), svc.REST_CLUSTER_FIELDS);
        break;
      case 'shrink':
        svc.shrinkCluster(c, caller, req.params.id, body.shrink!.map((x) => x.id));
        v = viewOf(c, caller, req.params.id);
        break;
      case 'reset-status':
        v = svc.resetClusterStatus(c, caller, req.params.id);
        break;
    }
    // Trove answers an action with the cluster (python-troveclient reads it when a body comes).
    return reply.code(202).send({ cluster: clusterView(c, v, linksOf(req), false) });
  });
}
