// Replication's wrong and hostile inputs over the REST bridge, each with the
// status code Trove's API gives (and python-troveclient shows): a real
// control with one real source instance (Redis: the quickest to build), and
// a second instance caught while it builds. Nothing here needs a replica to
// be built; test/control/rest/replication-set.test.ts covers what does.
import t from 'tap';
import { startControl } from '../../support/control.js';
import { restClient, waitInstance } from '../../support/openstack/rest.js';

t.setTimeout(300_000);

type Row = Record<string, unknown>;

t.test('replica create, promote, eject and detach refuse bad input with Trove\'s status codes', async (t) => {
  const control = await startControl(t);
  const request = restClient(control.restPort);
  const token = control.token('alpha');
  const rival = control.token('rival');
  const post = (path: string, body: unknown, tok = token, project = 'alpha') => request('POST', `/v1.0/${project}${path}`, { token: tok, body });
  const settled = (i: Row | null) => i?.status === 'ACTIVE' || i?.status === 'ERROR';

  const made = await post('/instances', { instance: { name: 'src', datastore: { type: 'redis' }, flavorRef: 'small', volume: { size: 1 } } });
  t.equal(made.status, 200, made.text);
  const src = String(made.body.instance.id);
  const theirs = await post('/instances', { instance: { name: 'theirs', datastore: { type: 'redis' } } }, rival, 'rival');
  t.equal(theirs.status, 200, theirs.text);
  const theirId = String(theirs.body.instance.id);
  const active = await waitInstance(request, 'alpha', token, src, settled, 180_000);
  t.equal(active!.status, 'ACTIVE', 'the source is ACTIVE');
  t.notOk('replica_of' in active! || 'replicas' in active!, 'a standalone shows neither replica_of nor replicas (the CLI\'s role column stays empty)');

  // What troveclient 8.0.0 sends for `instance create r1 --replica-of SRC`, with one field changed.
  const replica = (extra: Row) => post('/instances', { instance: { name: 'r1', replica_of: src, replica_count: 1, access: { is_public: false }, ...extra } });

  const bad: Array<[string, Row, RegExp]> = [
    ['replica_count 0', { replica_count: 0 }, /instance\.replica_count must be a whole number from 1 to 3, got 0/],
    ['replica_count 4', { replica_count: 4 }, /instance\.replica_count must be a whole number from 1 to 3, got 4/],
    ['replica_count "two"', { replica_count: 'two' }, /instance\.replica_count must be of type integer,null/],
    ['replica_count 1.5', { replica_count: 1.5 }, /instance\.replica_count must be of type integer/],
    ['replica_count "2" (a string)', { replica_count: '2' }, /instance\.replica_count must be of type integer/],
    ['replica_of a number', { replica_of: 42 }, /instance\.replica_of must be of type string,null/],
    ['replica_of an object', { replica_of: { id: src } }, /instance\.replica_of must be of type string,null/],
    ['replica_of empty', { replica_of: '' }, /instance\.replica_of must be the id of the instance to replicate/],
    ['replica_of blank', { replica_of: '   ' }, /instance\.replica_of must be the id of the instance to replicate/],
    ['replica_of 10,000 characters', { replica_of: 'x'.repeat(10_000) }, /instance\.replica_of must NOT have more than 255 characters/],
    ['a flavor beside replica_of', { flavorRef: 'small' }, /instance\.flavorRef cannot be given with instance\.replica_of/],
    ['a volume beside replica_of', { volume: { size: 2 } }, /instance\.volume cannot be given with instance\.replica_of/],
    ['a datastore beside replica_of', { datastore: { type: 'redis' } }, /instance\.datastore cannot be given with instance\.replica_of/],
    ['a datastore version beside replica_of', { datastore: { version: '7.0' } }, /instance\.datastore\.version cannot be given with instance\.replica_of/],
    ['users beside replica_of', { users: [{ name: 'app', password: 'App-pass-1' }] }, /instance\.users cannot be given with instance\.replica_of/],
    ['databases beside replica_of', { databases: [{ name: 'orders' }] }, /instance\.databases cannot be given with instance\.replica_of/],
    ['a backup beside replica_of', { restorePoint: { backupRef: 'b1' } }, /instance\.restorePoint cannot be given with instance\.replica_of/],
    ['auto_failover "yes"', { auto_failover: 'yes' }, /instance\.auto_failover must be of type boolean,null/],
    ['no name', { name: '' }, /instance\.name must NOT have fewer than 1 characters/],
    ['a name too long for its suffixes', { name: 'n'.repeat(254), replica_count: 2 }, /name is too long for 2 replicas/],
  ];
  for (const [what, extra, message] of bad) {
    const r = await replica(extra);
    t.equal(r.status, 400, `${what}: 400 (${r.text.slice(0, 200)})`);
    t.match(r.body?.badRequest?.message ?? '', message, `${what}: the message names the field`);
  }
  const countAlone = await post('/instances', { instance: { name: 'x', replica_count: 2, flavorRef: 'small' } });
  t.equal(countAlone.status, 400, 'replica_count without replica_of: 400');
  t.match(countAlone.body.badRequest.message, /replica_count is only for creating replicas/, 'saying replica_of is missing');

  // Hostile ids are instances that do not exist: 404, and nothing else happens.
  for (const id of ["' OR 1=1 --", '../../etc/passwd', '$(touch /tmp/coffer-pwned)', '%00', 'ünïcödé-😀', '00000000-0000-0000-0000-000000000000']) {
    const r = await replica({ replica_of: id });
    t.equal(r.status, 404, `replica_of ${JSON.stringify(id)}: 404 (${r.text.slice(0, 200)})`);
    t.ok(r.body?.itemNotFound, 'an itemNotFound fault');
  }
  const other = await replica({ replica_of: theirId });
  t.equal(other.status, 404, 'another project\'s instance as replica_of: 404, as if it did not exist');
  t.notMatch(other.text, /theirs/, 'its name is not leaked');

  // Not ACTIVE: caught while it builds.
  const building = await post('/instances', { instance: { name: 'young', datastore: { type: 'redis' } } });
  const young = String(building.body.instance.id);
  const early = await replica({ replica_of: young });
  t.equal(early.status, 409, `a source still in BUILD: 409 (${early.text.slice(0, 200)})`);
  t.match(early.body?.conflictingRequest?.message ?? '', /is BUILD.*ACTIVE source/, 'saying it must be ACTIVE');

  // Actions on a standalone: Trove answers 400.
  const action = (id: string, body: Row, tok = token, project = 'alpha') => post(`/instances/${id}/action`, body, tok, project);
  const promote = await action(src, { promote_to_replica_source: {} });
  t.equal(promote.status, 400, `promote a standalone: 400 (${promote.text.slice(0, 200)})`);
  t.match(promote.body.badRequest.message, /is not a replica/, 'it is not a replica');
  const eject = await action(src, { eject_replica_source: {} });
  t.equal(eject.status, 400, `eject a standalone: 400 (${eject.text.slice(0, 200)})`);
  t.match(eject.body.badRequest.message, /has no replicas/, 'it has no replicas');
  for (const method of ['PUT', 'PATCH']) {
    for (const key of ['replica_of', 'slave_of']) {
      const r = await request(method, `/v1.0/alpha/instances/${src}`, { token, body: { instance: { [key]: null } } });
      t.equal(r.status, 400, `${method} {"${key}": null} on a standalone: 400 (${r.text.slice(0, 200)})`);
      t.match(r.body?.badRequest?.message ?? '', /is not a replica/, 'there is nothing to detach it from');
    }
  }
  const attach = await request('PUT', `/v1.0/alpha/instances/${src}`, { token, body: { instance: { replica_of: young } } });
  t.equal(attach.status, 400, 'PUT replica_of an id (attaching an existing instance): 400');
  t.match(attach.body.badRequest.message, /only null is accepted/, 'saying only a detach is done here');
  const wrongBody = await action(src, { promote_to_replica_source: 'now' });
  t.equal(wrongBody.status, 400, 'promote_to_replica_source with a string body: 400');

  // Unknown and another project's instances: 404 for every action.
  for (const [what, id] of [['an unknown id', '00000000-0000-0000-0000-000000000000'], ['another project\'s instance', theirId], ['a hostile id', "x' OR '1'='1"]] as const) {
    for (const body of [{ promote_to_replica_source: {} }, { eject_replica_source: {} }]) {
      const r = await action(encodeURIComponent(id), body);
      t.equal(r.status, 404, `${Object.keys(body)[0]} on ${what}: 404`);
    }
    const d = await request('PUT', `/v1.0/alpha/instances/${encodeURIComponent(id)}`, { token, body: { instance: { replica_of: null } } });
    t.equal(d.status, 404, `detach ${what}: 404`);
  }

  // The source is untouched by all of it.
  const after = await request('GET', `/v1.0/alpha/instances/${src}`, { token });
  t.equal(after.body.instance.status, 'ACTIVE', 'the source is still ACTIVE');
  t.notOk('replicas' in after.body.instance, 'and has no replicas');
  const openapi = await request('GET', '/openapi.json');
  const create = JSON.stringify(openapi.body.paths['/v1.0/{project_id}/instances'].post);
  t.match(create, /replica_count/, '/openapi.json documents replica_of and replica_count on create');
  t.match(JSON.stringify(openapi.body.paths['/v1.0/{project_id}/instances/{id}/action'].post), /eject_replica_source/, 'and the promote and eject actions');
});
