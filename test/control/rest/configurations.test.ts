// Configuration groups through the real OpenStack CLI (troveclient 8.0.0)
// and the REST bridge, against a real control with real MariaDB and
// PostgreSQL instances: parameters, create (and an instance created with a
// group), attach, a dynamic change in force at once on both attached
// instances, a static one leaving RESTART_REQUIRED until a restart, the
// values in force, detach, delete refused while attached, and 422 for a
// value the rules refuse (nothing applied). Effects are read in the servers
// (SHOW VARIABLES, SHOW). Three instances, reused throughout.
import t from 'tap';
import { credentials } from '@grpc/grpc-js';
import { ConfigurationServiceClient, type GetConfigurationResponse } from '../../../proto/gen/coffer/control/v1/configurations.js';
import { ccall, startControl } from '../../support/control.js';
import { mariadb } from '../../support/mariadb-client.js';
import { psql } from '../../support/psql.js';
import { scrape } from '../../support/metrics.js';
import { openstack } from '../../support/openstack/cli.js';
import { restClient, troveSteps, waitInstance } from '../../support/openstack/rest.js';

type Row = Record<string, unknown>;

t.setTimeout(600_000);

/** Polls `read` until `pred` holds (a user waiting for a change to show). */
async function until<T>(what: string, read: () => Promise<T>, pred: (v: T) => boolean, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (pred(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: last ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

t.test('configuration groups on real MariaDB and PostgreSQL, through the OpenStack CLI and REST', async (t) => {
  const control = await startControl(t);
  const token = control.token('shop');
  const os = openstack(control.restPort, 'shop', token);
  const request = restClient(control.restPort);
  const steps = troveSteps(t, request, 'shop', token);
  const groups = new ConfigurationServiceClient(control.address, credentials.createInsecure());
  t.teardown(() => groups.close());
  const api = `/v1.0/shop`;
  const variable = async (port: number, name: string): Promise<string> => (await mariadb(port, 'app', 'App-pass-1', `SELECT @@GLOBAL.${name}`)).stdout.trim();
  const pgShow = async (port: number, name: string): Promise<string> => (await psql(port, 'app', 'App-pass-1', `SHOW ${name}`, 'shop')).stdout.trim();
  const status = async (id: string): Promise<string> => String((await request('GET', `${api}/instances/${id}`, { token })).body?.instance?.status);
  const user = { users: [{ name: 'app', password: 'App-pass-1' }] };

  // Parameters: by datastore and version name, and by the version's id alone
  // (the CLI without --datastore); and a group made with the CLI, Trove's
  // create answer. (The CLI is slow to start: side by side.)
  const [params, version, web] = await Promise.all([
    os.json<Row[]>('database', 'configuration', 'parameter', 'list', '10.11', '--datastore', 'mariadb'),
    os.json<Row>('datastore', 'version', 'show', '10.11', '--datastore', 'mariadb'),
    os.json<Row>('database', 'configuration', 'create', 'web', '{"max_connections": 150}', '--datastore', 'mariadb', '--datastore-version', '10.11', '--description', 'front ends'),
  ]);
  const maxConn = params.find((p) => p.Name === 'max_connections');
  t.same([maxConn?.Type, maxConn?.['Min Size'], maxConn?.['Max Size'], maxConn?.['Restart Required']], ['integer', 10, 100000, false], 'parameter list: type, range, dynamic');
  const webId = String(web.id);
  t.same([web.name, web.description, web.datastore_name, web.instance_count, JSON.parse(String(web.values))], ['web', 'front ends', 'mariadb', 0, { max_connections: 150 }], 'configuration create');
  const pgGroup = await request('POST', `${api}/configurations`, { token, body: { configuration: { name: 'pg', values: { work_mem: '8MB' }, datastore: { type: 'postgresql', version: '15' } } } });
  t.equal(pgGroup.status, 200, pgGroup.text);
  const pgId = String(pgGroup.body.configuration.id);

  // Instances, built while the refusals below are checked: m2 created with
  // the group; m1 and p1 attached later.
  const building = Promise.all([
    os.json<Row>('database', 'configuration', 'parameter', 'show', String(version.id), 'innodb_open_files'),
    steps.create('m1', { datastore: { type: 'mariadb', version: '10.11' }, ...user }),
    (async () => {
      const made = await os.json<Row>('database', 'instance', 'create', 'm2', '--flavor', 'small', '--size', '1', '--datastore', 'mariadb', '--datastore-version', '10.11', '--configuration', webId, '--users', 'app:App-pass-1');
      const m = await waitInstance(request, 'shop', token, String(made.id), (i) => i?.status === 'ACTIVE' || i?.status === 'ERROR', 180_000);
      t.equal(m!.status, 'ACTIVE', 'm2, created with the CLI\'s --configuration, is ACTIVE');
      return m!;
    })(),
    steps.create('p1', { datastore: { type: 'postgresql', version: '15' }, databases: [{ name: 'shop' }], users: [{ name: 'app', password: 'App-pass-1', databases: [{ name: 'shop' }] }] }),
  ]);
  building.catch(() => undefined); // awaited below; a failure is reported there

  // Refusals: 422 naming the parameter and what it allows; nothing kept.
  const refused = async (why: string, values: unknown, match: RegExp, status = 422) => {
    const r = await request('POST', `${api}/configurations`, { token, body: { configuration: { name: 'bad', values, datastore: { type: 'mariadb' } } } });
    t.equal(r.status, status, `${why}: ${r.text}`);
    t.match(r.text, match, `${why}: the message says what is wrong`);
  };
  await refused('an unknown parameter', { no_such_thing: 1 }, /no_such_thing/);
  await refused('the wrong type', { max_connections: 'lots' }, /max_connections must be an integer/);
  await refused('out of range', { max_connections: 5 }, /max_connections must be between 10 and 100000/);
  await refused('a line break smuggling another option', { sql_mode: 'ANSI\nskip_grant_tables=1' }, /sql_mode must not contain control characters/);
  await refused('an object as a value', { max_connections: { a: 1 } }, /max_connections must be given as a string/);
  await refused('values that are not an object', ['max_connections'], /configuration\.values/, 400);
  const proto = await request('POST', `${api}/configurations`, { token, raw: true, body: '{"configuration": {"name": "bad", "values": {"__proto__": {"x": 1}}}}' });
  t.equal(proto.status, 422, `__proto__ as a parameter name: ${proto.text}`);
  const cliBad = await os.run('database', 'configuration', 'create', 'bad', '{"max_connections": 5}', '--datastore', 'mariadb');
  t.not(cliBad.code, 0, 'the CLI reports the refusal');
  t.match(cliBad.stderr, /max_connections must be between 10 and 100000/);
  t.same((await os.json<Row[]>('database', 'configuration', 'list')).map((g) => g.Name).sort(), ['pg', 'web'], 'configuration list: nothing refused was kept');

  const [shownParam, m1, m2, p1] = await building;
  t.equal(shownParam.restart_required, true, 'parameter show by version id: innodb_open_files needs a restart');
  const [m1Port, m2Port, p1Port] = [Number(m1.port), Number(m2.port), Number(p1.port)];
  t.equal(await variable(m2Port, 'max_connections'), '150', 'an instance created with a group runs with its values');
  t.equal((await os.json<Row>('database', 'instance', 'show', 'm2')).configuration, webId, 'instance show names the group');
  const before = await variable(m1Port, 'max_connections');

  // MariaDB (two instances, the CLI) and PostgreSQL (one, REST) side by side.
  const mariadbWalk = async () => {
    // Attach with the CLI: a dynamic value in force at once.
    await os.ok('database', 'configuration', 'attach', 'm1', 'web');
    await until('m1 max_connections 150', () => variable(m1Port, 'max_connections'), (v) => v === '150');
    t.pass('attach: SHOW VARIABLES on m1 says 150');
    t.same((await os.json<Row[]>('database', 'configuration', 'instances', 'web')).map((i) => i.Name).sort(), ['m1', 'm2'], 'configuration instances');
    const busy = await os.run('database', 'configuration', 'delete', 'web');
    t.not(busy.code, 0, 'configuration delete is refused while instances are attached');
    t.match(busy.stderr, /attached to 2 instances/);

    // A dynamic change (PATCH) re-applied to both instances, each outcome shown.
    await os.ok('database', 'configuration', 'parameter', 'set', webId, '{"max_connections": 175}');
    await until('both at 175', async () => [await variable(m1Port, 'max_connections'), await variable(m2Port, 'max_connections')], (v) => v.every((x) => x === '175'));
    t.pass('a PATCH reaches both attached servers');
    const outcome = await until('the apply task to finish', () => ccall<GetConfigurationResponse>(groups, 'getConfiguration', { id: webId }, token), (r) => r.configuration!.instances.every((i) => i.state === 'applied'));
    const task = await ccall<{ task: { kind: string; state: number } }>(control.clients.tasks, 'getTask', { id: outcome.configuration!.taskId }, token);
    t.same([task.task.kind, task.task.state], ['configuration-apply', 2], 'the re-apply ran as a task that succeeded');
    t.same([await status(m1.id as string), await status(m2.id as string)], ['ACTIVE', 'ACTIVE'], 'a dynamic change needs no restart');
    const badPatch = await request('PATCH', `${api}/configurations/${webId}`, { token, body: { configuration: { values: { max_connections: 100001 } } } });
    t.equal(badPatch.status, 422, 'a PATCH out of range is 422');
    t.same(JSON.parse(String((await os.json<Row>('database', 'configuration', 'show', 'web')).values)), { max_connections: 175 }, 'and changed nothing');

    // A static value (PUT replaces the values): RESTART_REQUIRED until a restart.
    await os.ok('database', 'configuration', 'set', webId, '{"max_connections": 175, "innodb_open_files": 500}', '--description', 'front ends, more files');
    await until('m1 RESTART_REQUIRED', () => status(String(m1.id)), (s) => s === 'RESTART_REQUIRED');
    t.not(await variable(m1Port, 'innodb_open_files'), '500', 'the static value is not in force yet');
    const scraped = await scrape(control.current!.metricsPort!);
    t.ok((scraped.value('coffer_control_instances', { status: 'RESTART_REQUIRED', datastore: 'mariadb' }) ?? 0) >= 1, 'the control\'s metrics count it RESTART_REQUIRED, as the API shows it');
    await os.ok('database', 'instance', 'restart', 'm1');
    const restarted = await waitInstance(request, 'shop', token, String(m1.id), (i) => i?.status === 'ACTIVE' || i?.status === 'ERROR');
    t.equal(restarted!.status, 'ACTIVE', 'a restart clears RESTART_REQUIRED');
    t.equal(await variable(m1Port, 'innodb_open_files'), '500', 'and brings the static value into force');
    const inForce = await os.json<Row>('database', 'configuration', 'default', 'm1');
    t.same([inForce.max_connections, inForce.innodb_open_files], ['175', '500'], 'configuration default: the values in force');
  };
  const postgresqlWalk = async () => {
    // PostgreSQL: attach over REST, a dynamic value, then a static one.
    t.equal((await request('PUT', `${api}/instances/${p1.id}`, { token, body: { instance: { configuration: pgId } } })).status, 202, 'attach by PUT /instances/{id}');
    await until('p1 work_mem 8MB', () => pgShow(p1Port, 'work_mem'), (v) => v === '8MB');
    t.pass('SHOW work_mem on p1 says 8MB');
    t.equal((await request('PATCH', `${api}/configurations/${pgId}`, { token, body: { configuration: { values: { max_connections: 50 } } } })).status, 200, 'PATCH answers 200');
    await until('p1 RESTART_REQUIRED', () => status(String(p1.id)), (s) => s === 'RESTART_REQUIRED');
    t.equal((await request('POST', `${api}/instances/${p1.id}/action`, { token, body: { restart: {} } })).status, 202);
    const pgBack = await waitInstance(request, 'shop', token, String(p1.id), (i) => i?.status === 'ACTIVE' || i?.status === 'ERROR');
    t.equal(pgBack!.status, 'ACTIVE');
    t.equal(await pgShow(p1Port, 'max_connections'), '50', 'SHOW max_connections after the restart');
  };
  await Promise.all([mariadbWalk(), postgresqlWalk()]);

  // Another project sees no group.
  t.equal((await request('GET', `/v1.0/rival/configurations/${webId}`, { token: control.token('rival') })).status, 404, 'another project\'s group is 404');

  // Detach: the CLI (configuration null) and a PUT of {}; then delete.
  await os.ok('database', 'configuration', 'detach', 'm1');
  await until('m1 back to its own max_connections', () => variable(m1Port, 'max_connections'), (v) => v === before);
  t.pass('detach takes the dynamic value off');
  t.equal((await request('PUT', `${api}/instances/${m2.id}`, { token, body: { instance: {} } })).status, 202);
  await until('m2 detached', async () => (await request('GET', `${api}/configurations/${webId}`, { token })).body.configuration.instance_count, (n) => n === 0);
  await os.ok('database', 'configuration', 'delete', 'web');
  t.same((await os.json<Row[]>('database', 'configuration', 'list')).map((g) => g.Name), ['pg'], 'configuration delete');
});
