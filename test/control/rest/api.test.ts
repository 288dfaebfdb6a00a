// The REST bridge's own contract, over plain HTTP: versions, /openapi.json,
// X-Auth-Token and projects, Trove's shapes and status codes, fault bodies,
// 400s that name the field, rename and reset_status, a failed instance's
// fault, limits.
import t from 'tap';
import { startControl, type ControlHarness } from '../../support/control.js';
import { restClient, waitInstance } from '../../support/openstack/rest.js';

t.setTimeout(300_000);

// One control serves the first three subtests (the suite's time is watched:
// a control's start and stop is a few seconds of CPU on a loaded 2-core
// box); the last needs options of its own.
let shared: Promise<ControlHarness> | undefined;
const sharedControl = (): Promise<ControlHarness> => (shared ??= startControl(t));

t.test('versions and /openapi.json need no token; the document covers the routes', async (t) => {
  const control = await sharedControl();
  const request = restClient(control.restPort);
  const v = await request('GET', '/');
  t.equal(v.status, 200);
  t.equal(v.body.versions[0].id, 'v1.0', 'GET / lists v1.0');
  const doc = await request('GET', '/openapi.json');
  t.equal(doc.status, 200);
  t.equal(doc.body.openapi, '3.0.3');
  const expected: Array<[string, string]> = [
    ['/v1.0/{project_id}/instances', 'get'], ['/v1.0/{project_id}/instances', 'post'], ['/v1.0/{project_id}/instances/detail', 'get'],
    ['/v1.0/{project_id}/instances/{id}', 'get'], ['/v1.0/{project_id}/instances/{id}', 'put'], ['/v1.0/{project_id}/instances/{id}', 'patch'],
    ['/v1.0/{project_id}/instances/{id}', 'delete'], ['/v1.0/{project_id}/instances/{id}/action', 'post'], ['/v1.0/{project_id}/instances/{id}/backups', 'get'],
    ['/v1.0/{project_id}/instances/{id}/databases', 'get'], ['/v1.0/{project_id}/instances/{id}/databases', 'post'], ['/v1.0/{project_id}/instances/{id}/databases/{name}', 'delete'],
    ['/v1.0/{project_id}/instances/{id}/users', 'get'], ['/v1.0/{project_id}/instances/{id}/users', 'post'], ['/v1.0/{project_id}/instances/{id}/users', 'put'],
    ['/v1.0/{project_id}/instances/{id}/users/{user}', 'get'], ['/v1.0/{project_id}/instances/{id}/users/{user}', 'put'], ['/v1.0/{project_id}/instances/{id}/users/{user}', 'delete'],
    ['/v1.0/{project_id}/instances/{id}/users/{user}/databases', 'get'], ['/v1.0/{project_id}/instances/{id}/users/{user}/databases', 'put'],
    ['/v1.0/{project_id}/instances/{id}/users/{user}/databases/{database}', 'delete'],
    ['/v1.0/{project_id}/instances/{id}/root', 'post'], ['/v1.0/{project_id}/instances/{id}/root', 'get'], ['/v1.0/{project_id}/instances/{id}/root', 'delete'],
    ['/v1.0/{project_id}/backups', 'get'], ['/v1.0/{project_id}/backups', 'post'], ['/v1.0/{project_id}/backups/{id}', 'get'], ['/v1.0/{project_id}/backups/{id}', 'delete'],
    ['/v1.0/{project_id}/datastores', 'get'], ['/v1.0/{project_id}/datastores/{id}/versions', 'get'], ['/v1.0/{project_id}/flavors', 'get'], ['/v1.0/{project_id}/limits', 'get'],
    ['/v1.0/{project_id}/clusters', 'get'], ['/v1.0/{project_id}/clusters', 'post'], ['/v1.0/{project_id}/clusters/{id}', 'get'], ['/v1.0/{project_id}/clusters/{id}', 'post'],
    ['/v1.0/{project_id}/clusters/{id}', 'delete'], ['/v1.0/{project_id}/clusters/{id}/instances/{instance_id}', 'get'],
  ];
  for (const [path, method] of expected) t.ok(doc.body.paths[path]?.[method], `${method.toUpperCase()} ${path} is documented`);
  const create = doc.body.paths['/v1.0/{project_id}/instances'].post;
  t.same(create.requestBody.content['application/json'].schema.required, ['instance'], 'the create body schema is the one fastify validates with');
  t.ok(create.parameters.some((p: { name: string; in: string }) => p.name === 'project_id' && p.in === 'path'), 'path parameters are listed');
  t.ok(doc.body.components.schemas.Fault, 'the fault body is documented');
});

t.test('tokens, projects and Trove shapes', async (t) => {
  const control = await sharedControl();
  const request = restClient(control.restPort);
  const alpha = control.token('alpha');
  const beta = control.token('beta');
  const admin = control.token('ops', true);

  const none = await request('GET', '/v1.0/alpha/instances');
  t.equal(none.status, 401, 'no token: 401');
  t.equal(none.body.unauthorized.code, 401, 'an unauthorized fault body');
  t.equal((await request('GET', '/v1.0/alpha/instances', { token: 'coffer_nope' })).status, 401, 'an unknown token: 401');
  const cross = await request('GET', '/v1.0/beta/instances', { token: alpha });
  t.equal(cross.status, 403, 'a path project that is not the token\'s: 403');
  t.ok(cross.body.forbidden, 'a forbidden fault body');
  const noProject = await request('GET', '/v1.0/nosuch/instances', { token: admin });
  t.equal(noProject.status, 404, 'an admin token on a project that does not exist: 404');

  const created = await request('POST', '/v1.0/alpha/instances', {
    token: alpha,
    body: { instance: { name: 'orders', flavorRef: 'small', volume: { size: 1, type: null }, datastore: { type: 'mariadb', version: '10.11' }, databases: [{ name: 'orders' }], nics: [], availability_zone: 'nova' } },
  });
  t.equal(created.status, 200, `create: 200 ${created.text}`);
  const inst = created.body.instance;
  const id = inst.id as string;
  t.equal(inst.status, 'BUILD', 'status BUILD');
  t.same(inst.datastore, { type: 'mariadb', version: '10.11', version_number: '10.11' }, 'datastore type and version');
  t.equal(inst.flavor.id, 'small', 'flavor id');
  t.equal(inst.volume.size, 1, 'volume size');
  t.match(inst.links[0].href, new RegExp(`/v1\\.0/alpha/instances/${id}$`), 'self link');

  t.equal((await request('GET', `/v1.0/beta/instances/${id}`, { token: beta })).status, 404, 'another project\'s instance: 404');
  t.equal((await request('DELETE', `/v1.0/beta/instances/${id}`, { token: beta })).status, 404, 'delete: 404');
  t.equal((await request('GET', `/v1.0/beta/instances/${id}/databases`, { token: beta })).status, 404, 'its databases: 404');
  t.equal((await request('POST', '/v1.0/beta/backups', { token: beta, body: { backup: { name: 'steal', instance: id } } })).status, 404, 'backing it up: 404');
  t.same((await request('GET', '/v1.0/beta/instances', { token: beta })).body.instances, [], 'beta lists nothing');
  const asAdmin = await request('GET', `/v1.0/alpha/instances/${id}`, { token: admin });
  t.equal(asAdmin.status, 200, 'an admin token acts on project alpha');
  t.equal(asAdmin.body.instance.tenant_id, 'alpha');
  t.same((await request('GET', '/v1.0/ops/instances', { token: admin })).body.instances, [], 'the admin\'s own project lists its own instances only');

  const renamed = await request('PUT', `/v1.0/alpha/instances/${id}`, { token: alpha, body: { instance: { name: 'orders-eu' } } });
  t.equal(renamed.status, 202, 'PUT name: 202');
  t.equal((await request('GET', `/v1.0/alpha/instances/${id}`, { token: alpha })).body.instance.name, 'orders-eu', 'renamed');
  t.equal((await request('PATCH', `/v1.0/alpha/instances/${id}`, { token: alpha, body: { instance: { name: 'orders' } } })).status, 202, 'PATCH name: 202');

  const busy = await request('POST', `/v1.0/alpha/instances/${id}/action`, { token: alpha, body: { reset_status: {} } });
  t.equal(busy.status, 409, 'reset_status while the create task runs: 409');
  t.ok(busy.body.conflictingRequest, 'a conflictingRequest fault');
  const early = await request('POST', '/v1.0/alpha/backups', { token: alpha, body: { backup: { name: 'b', instance: id } } });
  t.equal(early.status, 409, 'a backup of a BUILD instance: 409');

  const active = await waitInstance(request, 'alpha', alpha, id, (i) => i?.status === 'ACTIVE' || i?.status === 'ERROR');
  t.equal(active!.status, 'ACTIVE');
  const healthy = await waitInstance(request, 'alpha', alpha, id, (i) => i?.operating_status === 'HEALTHY', 30_000);
  t.equal(healthy!.operating_status, 'HEALTHY', 'operating_status from the agent\'s heartbeat');
  const detail = await request('GET', '/v1.0/alpha/instances/detail', { token: alpha });
  t.equal(detail.body.instances[0].id, id, 'instances/detail lists it');
  const reset = await request('POST', `/v1.0/alpha/instances/${id}/action`, { token: alpha, body: { reset_status: {} } });
  t.equal(reset.status, 202, 'reset_status on a settled instance: 202');
  t.equal((await request('GET', `/v1.0/alpha/instances/${id}`, { token: alpha })).body.instance.status, 'ACTIVE', 'a healthy instance stays ACTIVE');
  const root = await request('GET', `/v1.0/alpha/instances/${id}/root`, { token: alpha });
  t.same(root.body, { rootEnabled: false }, 'GET root: rootEnabled false');

  const limits = await request('GET', '/v1.0/alpha/limits', { token: alpha });
  t.equal(limits.body.limits[0].verb, 'ABSOLUTE');
  t.equal(limits.body.limits[0].total_instances_used, 1, 'limits count the project\'s instances');

  const page = await request('GET', '/v1.0/alpha/instances?limit=1', { token: alpha });
  t.equal(page.body.instances.length, 1);
  t.notOk(page.body.links, 'no next link on the last page');
});

t.test('bad input answers 400 naming the field', async (t) => {
  const control = await sharedControl();
  const request = restClient(control.restPort);
  const token = control.token('alpha');
  const post = (path: string, body: unknown, raw = false) => request('POST', `/v1.0/alpha${path}`, { token, body, raw });
  const cases: Array<[string, ReturnType<typeof post>, RegExp]> = [
    ['malformed JSON', post('/instances', '{"instance": ', true), /JSON/],
    ['a missing body member', post('/instances', {}, false), /instance is required/],
    ['a missing required field', post('/instances', { instance: {} }), /instance\.name is required/],
    ['a wrong type', post('/instances', { instance: { name: 5 } }), /instance\.name must be of type string/],
    ['a wrong nested type', post('/instances', { instance: { name: 'x', volume: { size: 'big' } } }), /instance\.volume\.size/],
    ['a wrong item type', post('/instances', { instance: { name: 'x', databases: [{ name: ['a'] }] } }), /instance\.databases\[0\]\.name/],
    ['a huge name', post('/instances', { instance: { name: 'x'.repeat(10_000) } }), /instance\.name must NOT have more than 255 characters/],
    ['an unknown flavor', post('/instances', { instance: { name: 'x', flavorRef: 'jumbo' } }), /flavor "jumbo"/],
    ['an unknown datastore', post('/instances', { instance: { name: 'x', datastore: { type: 'oracle' } } }), /datastore "oracle"/],
    ['replication with a flavor', post('/instances', { instance: { name: 'x', replica_of: 'abc', flavorRef: 'small' } }), /instance\.flavorRef cannot be given with instance\.replica_of/],
    ['an empty action', post('/instances/abc/action', {}), /must NOT have fewer than 1 properties/],
    ['two actions', post('/instances/abc/action', { restart: {}, reset_status: {} }), /must NOT have more than 1 properties/],
    ['a bad resize', post('/instances/abc/action', { resize: { volume: { size: -1 } } }), /resize\.volume\.size/],
    ['an oversized body', post('/instances', { instance: { name: 'x', pad: 'y'.repeat(2 * 1024 * 1024) } }), /too large/],
    ['a bad limit', request('GET', '/v1.0/alpha/instances?limit=lots', { token }), /limit/],
    ['a backup without a name', post('/backups', { backup: { instance: 'abc' } }), /backup\.name is required/],
    ['incremental as a string', post('/backups', { backup: { name: 'b', instance: 'abc', incremental: 'yes' } }), /backup\.incremental/],
  ];
  for (const [what, res, message] of cases) {
    const r = await res;
    t.equal(r.status, 400, `${what}: 400 (${r.text.slice(0, 200)})`);
    t.equal(r.body?.badRequest?.code, 400, `${what}: a badRequest fault`);
    t.match(r.body?.badRequest?.message ?? '', message, `${what}: the message names it`);
  }
  const unknown = await post('/instances/abc/action', { explode: {} });
  t.equal(unknown.status, 404, 'an unknown action on an instance that does not exist: 404 first');
  const route = await request('GET', '/v1.0/alpha/nothing-here', { token });
  t.equal(route.status, 404, 'an unknown route: 404');
  t.ok(route.body.itemNotFound, 'with an itemNotFound fault');
  const media = await request('POST', '/v1.0/alpha/instances', { token, body: 'name=x', raw: true, contentType: 'application/x-www-form-urlencoded' });
  t.equal(media.status, 415, 'a body that is not JSON: 415');
  t.ok(media.body.badMediaType, 'a badMediaType fault');
});

t.test('an unknown action on a real instance, and a failed instance shows its fault', async (t) => {
  // Tasks pass their deadline: the instance goes to ERROR with a fault.
  const control = await startControl(t, { taskDeadlineSeconds: 1, stepDelayMs: 3000 });
  const request = restClient(control.restPort);
  const token = control.token('alpha');
  const created = await request('POST', '/v1.0/alpha/instances', { token, body: { instance: { name: 'doomed' } } });
  const id = created.body.instance.id as string;
  const unknown = await request('POST', `/v1.0/alpha/instances/${id}/action`, { token, body: { migrate: {} } });
  t.equal(unknown.status, 400, 'an unknown action: 400');
  t.match(unknown.body.badRequest.message, /unknown action "migrate"/, 'naming the action');
  const failed = await waitInstance(request, 'alpha', token, id, (i) => i?.status === 'ERROR', 60_000);
  t.equal(failed!.status, 'ERROR', 'the instance is ERROR');
  const f = failed!.fault as { message: string; created: string };
  t.ok(f?.message, `the fault is shown: ${f?.message}`);
  t.match(f.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/, 'with its time, Trove\'s format');
  const reset = await request('POST', `/v1.0/alpha/instances/${id}/action`, { token, body: { reset_status: {} } });
  t.equal(reset.status, 202, 'reset_status on an ERROR instance with no task: 202');
  t.equal((await request('GET', `/v1.0/alpha/instances/${id}`, { token })).body.instance.status, 'ERROR', 'still ERROR: its agent does not report a running datastore');
});
