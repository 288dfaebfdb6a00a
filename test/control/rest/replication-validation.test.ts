// Replication's wrong and hostile inputs over the REST bridge, each with the
// status code Trove's API gives (and python-troveclient shows): a real
// control with one real source instance (Redis: the quickest to build), and
// a second instance caught while it builds, and one replica record (the
// refusals do not depend on its build); replication-openstack-cli.test.ts
// covers what needs replicas built.
import t from 'tap';
import { startControl } from '../../support/control.js';
import { openstack } from '../../support/openstack/cli.js';
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

  // With a replica recorded (its build may still run or have failed: the
  // refusals below depend only on the records and the source's heartbeat).
  const r1 = await replica({});
  t.equal(r1.status, 200, `create a replica, as troveclient sends it: 200 (${r1.text.slice(0, 300)})`);
  const rid = String(r1.body.instance.id);
  t.equal(r1.body.instance.name, 'r1', 'named as asked (one replica: no suffix)');
  t.equal(r1.body.instance.replica_of?.id, src, 'its view names its source: replica_of.id');
  t.match(r1.body.instance.replica_of?.links?.[0]?.href ?? '', new RegExp(`/v1\.0/alpha/instances/${src}$`), 'with Trove\'s links');
  t.same(r1.body.instance.datastore.type, 'redis', 'it takes the source\'s datastore');
  t.equal(r1.body.instance.flavor.id, 'small', 'and flavor');
  const srcView = (await request('GET', `/v1.0/alpha/instances/${src}`, { token })).body.instance;
  t.same(srcView.replicas.map((x: Row) => x.id), [rid], 'the source lists it in replicas');
  t.ok('lag_seconds' in srcView.replicas[0] && 'lag_bytes' in srcView.replicas[0], 'each replica entry carries its lag (null until its agent reports it)');
  const listed = (await request('GET', '/v1.0/alpha/instances', { token })).body.instances as Row[];
  t.ok(listed.find((i) => i.id === src)?.replicas, 'the list view has replicas on the source (the CLI\'s role "primary")');
  t.ok(listed.find((i) => i.id === rid)?.replica_of, 'and replica_of on the replica (role "replica")');

  const ofReplica = await replica({ name: 'rr', replica_of: rid });
  t.equal(ofReplica.status, 403, `a replica of a replica: 403, as Trove (${ofReplica.text.slice(0, 300)})`);
  t.match(ofReplica.body?.forbidden?.message ?? '', /is a replica of .*a replica cannot have replicas/, 'saying why');
  const fresh = await action(src, { eject_replica_source: {} });
  t.equal(fresh.status, 400, `eject while the source's heartbeat is fresh: 400 (${fresh.text.slice(0, 300)})`);
  t.match(fresh.body.badRequest.message, /cannot be ejected: its agent was heard \d+ s ago/, 'saying when it was heard');
  t.match(fresh.body.badRequest.message, /promote one of its replicas/, 'and what to do instead');
  const ejectReplica = await action(rid, { eject_replica_source: {} });
  t.equal(ejectReplica.status, 400, 'eject on a replica: 400');
  const del = await request('DELETE', `/v1.0/alpha/instances/${src}`, { token });
  t.equal(del.status, 409, `delete a source that has replicas: 409 (${del.text.slice(0, 300)})`);
  t.match(del.body?.conflictingRequest?.message ?? '', /source of 1 replica \(r1\): promote one of them to replica source, or detach them, before deleting it/, 'saying to promote or detach first');
  const early2 = await action(rid, { promote_to_replica_source: {} });
  t.equal(early2.status, 409, `promote while the set is not all ACTIVE: 409 (${early2.text.slice(0, 300)})`);
  t.match(early2.body?.conflictingRequest?.message ?? '', /every member of the replication set ACTIVE/, 'saying the set must be ACTIVE');
  const detachEarly = await request('PUT', `/v1.0/alpha/instances/${rid}`, { token, body: { instance: { replica_of: null } } });
  t.equal(detachEarly.status, 409, `detach a replica that is not ACTIVE: 409 (${detachEarly.text.slice(0, 300)})`);
  const promoteSource = await action(src, { promote_to_replica_source: {} });
  t.equal(promoteSource.status, 400, 'promote the source itself: 400');
  t.match(promoteSource.body.badRequest.message, /already the source of its replication set/, 'it is the source already');
  const theirReplica = await post('/instances', { instance: { name: 'spy', replica_of: rid, replica_count: 1 } }, rival, 'rival');
  t.equal(theirReplica.status, 404, 'another project cannot replicate the replica either: 404');

  // The real OpenStack CLI over the same records: what it shows of them and of the refusals.
  const os = openstack(control.restPort, 'alpha', token);
  const [list, shownSrc, shownR1] = await Promise.all([
    os.json<Row[]>('database', 'instance', 'list'),
    os.json<Row>('database', 'instance', 'show', 'src'),
    os.json<Row>('database', 'instance', 'show', 'r1'),
  ]);
  const roles = Object.fromEntries(list.map((i) => [String(i.Name), String(i.Role)]));
  t.equal(roles.src, 'primary', 'openstack database instance list: the source\'s Role is primary');
  t.equal(roles.r1, 'replica', 'the replica\'s is replica');
  t.equal(roles.young, '', 'a standalone\'s is empty');
  t.equal(shownSrc.replicas, rid, 'instance show of the source: replicas');
  t.equal(shownR1.replica_of, src, 'instance show of the replica: replica_of');
  const ej = await os.run('database', 'instance', 'eject', 'src');
  t.not(ej.code, 0, 'openstack database instance eject of a live source fails');
  t.match(ej.stderr, /cannot be ejected: its agent was heard \d+ s ago.*\(HTTP 400\)/s, `and the CLI shows why: ${ej.stderr.trim()}`);
  const dl = await os.run('database', 'instance', 'delete', 'src');
  t.not(dl.code, 0, 'openstack database instance delete of a source with replicas fails');
  t.match(dl.stdout + dl.stderr, /promote one of them to replica source, or detach them, before deleting it/, `and the CLI shows why: ${(dl.stdout + dl.stderr).trim()}`);
  const rr = await os.run('database', 'instance', 'create', 'rr', '--replica-of', 'r1');
  t.not(rr.code, 0, 'openstack database instance create --replica-of a replica fails');
  t.match(rr.stderr, /a replica cannot have replicas.*\(HTTP 403\)/s, `with the 403: ${rr.stderr.trim()}`);
  const fl = await os.run('database', 'instance', 'create', 'rf', '--replica-of', 'src', '--size', '2');
  t.match(fl.stderr, /instance\.volume cannot be given with instance\.replica_of.*\(HTTP 400\)/s, `--size beside --replica-of: 400 (${fl.stderr.trim()})`);
  const pr = await os.run('database', 'instance', 'promote', 'src');
  t.match(pr.stderr, /already the source of its replication set.*\(HTTP 400\)/s, `promote of the source: 400 (${pr.stderr.trim()})`);
  const dt = await os.run('database', 'instance', 'detach', 'young');
  t.match(dt.stderr, /is not a replica.*\(HTTP 400\)/s, `detach of a standalone: 400 (${dt.stderr.trim()})`);

  const openapi = await request('GET', '/openapi.json');
  const create = JSON.stringify(openapi.body.paths['/v1.0/{project_id}/instances'].post);
  t.match(create, /replica_count/, '/openapi.json documents replica_of and replica_count on create');
  t.match(JSON.stringify(openapi.body.paths['/v1.0/{project_id}/instances/{id}/action'].post), /eject_replica_source/, 'and the promote and eject actions');
});
