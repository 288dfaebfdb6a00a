// Clusters through the real OpenStack CLI (python-troveclient 8.0.0,
// unchanged) against a real coffer-control: bad requests refused with a 400
// naming the field (straight over HTTP, and through the CLI), then ONE real
// 3-node MariaDB Galera cluster walked through every command in order:
// `database cluster create`, `list`, `show`, `list instances`, a member's
// detail (GET /clusters/{id}/instances/{iid}), `grow`, `shrink`,
// `reset status` and `delete`. A row written through one member is read
// through the others, the member added by grow, and after the shrink.
// Members get small buffers (--cluster-member-override): four mariadbd
// share this host.
import t from 'tap';
import { waitFor } from '../../support/agent.js';
import { startControl } from '../../support/control.js';
import { mariadb } from '../../support/mariadb-client.js';
import { openstack } from '../../support/openstack/cli.js';
import { restClient } from '../../support/openstack/rest.js';

type Row = Record<string, unknown>;

// Three members built one after another (each joiner takes a full copy), a
// fourth grown and shrunk away, then all deleted.
t.setTimeout(1_200_000);

const SMALL = ['--cluster-member-override', 'innodb_buffer_pool_size=33554432'];
const INSTANCE = 'flavor=small,volume=1';

t.test('openstack database cluster create, list, show, list instances, grow, shrink, reset status, delete', async (t) => {
  const control = await startControl(t, { extraArgs: SMALL });
  const token = control.token('shop');
  const other = control.token('other');
  const os = openstack(control.restPort, 'shop', token);
  const request = restClient(control.restPort);
  const base = '/v1.0/shop/clusters';
  const post = (path: string, body: unknown) => request('POST', path, { token, body });
  const refused = async (what: string, r: Promise<{ status: number; body: any; text: string }>, status: number, message: RegExp) => { // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON
    const res = await r;
    t.equal(res.status, status, `${what}: ${status} (${res.text})`);
    const f = Object.values((res.body ?? {}) as Record<string, { message?: string }>)[0];
    t.match(f?.message ?? '', message, `${what}: the fault names the problem`);
  };
  const member = { flavorRef: 'small', volume: { size: 1 } };
  const create = (cluster: Row) => post(base, { cluster: { name: 'bad', datastore: { type: 'mariadb', version: '10.11' }, ...cluster } });

  // Bad requests: refused before anything is recorded.
  await refused('no instances', create({}), 400, /cluster\.instances is required/);
  await refused('an empty instances list', create({ instances: [] }), 400, /cluster\.instances/);
  await refused('a malformed body', request('POST', base, { token, body: '{"cluster": ', raw: true }), 400, /not valid JSON/);
  await refused('a volume size that is no number', create({ instances: [{ flavorRef: 'small', volume: { size: 'one' } }] }), 400, /cluster\.instances\[0\]\.volume\.size/);
  await refused('two types for one member', create({ instances: [{ ...member, type: ['member', 'master'] }] }), 400, /cluster\.instances\[0\]\.type must NOT have more than 1 items/);
  await refused('an unknown configuration group', create({ instances: [member, member, member], configuration: 'cfg-1' }), 404, /configuration cfg-1 does not exist/);
  await refused('an unknown locality', create({ instances: [member, member, member], locality: 'nearby' }), 400, /cluster\.locality/);
  await refused('no action', post(`${base}/x`, {}), 400, /names no action: send one of grow, shrink, reset-status/);
  await refused('an unknown action', post(`${base}/x`, { upgrade: { datastore_version: '11' } }), 400, /unknown action "upgrade"/);
  await refused('two actions', post(`${base}/x`, { grow: [member], 'reset-status': {} }), 400, /2 actions \(grow, reset-status\): send exactly one/);
  await refused('grow that is no list', post(`${base}/x`, { grow: member }), 400, /grow must be of type array/);
  await refused('shrink without ids', post(`${base}/x`, { shrink: [{}] }), 400, /shrink\[0\]\.id is required/);
  // The service's own refusals, passed through with their status.
  await refused('a 2-member Galera cluster', create({ instances: [member, member] }), 400, /3/);
  await refused('mixed flavors', create({ instances: [member, member, { ...member, flavorRef: 'medium' }] }), 400, /instances\[2\]\.flavorRef "medium" differs/);
  await refused('an unknown datastore', post(base, { cluster: { name: 'bad', datastore: { type: 'nosuch' }, instances: [member, member, member] } }), 400, /nosuch/);
  await refused('an unknown cluster', request('GET', `${base}/00000000-0000-4000-8000-000000000000`, { token }), 404, /00000000-0000-4000-8000-000000000000/);
  await refused('an action on an unknown cluster', post(`${base}/00000000-0000-4000-8000-000000000000`, { 'reset-status': {} }), 404, /does not exist/);
  t.same((await request('GET', base, { token })).body, { clusters: [] }, 'nothing was recorded');

  // The CLI's own refusals: what it shows a user.
  const two = await os.run('database', 'cluster', 'create', 'c0', 'mariadb', '10.11', '--instance', INSTANCE, '--instance', INSTANCE);
  t.not(two.code, 0, 'cluster create with 2 members fails');
  t.match(two.stderr, /\(HTTP 400\)/, `and the CLI shows the 400: ${two.stderr.trim()}`);

  // ONE cluster, exactly as the CLI sends it (volume size a string, nics and so on).
  const made = await os.json<Row>('database', 'cluster', 'create', 'c1', 'mariadb', '10.11', '--instance', INSTANCE, '--instance', INSTANCE, '--instance', INSTANCE);
  t.equal(made.name, 'c1', 'cluster create: the cluster, named as asked');
  t.equal(made.datastore, 'mariadb', 'its datastore');
  t.equal(made.datastore_version, '10.11', 'and version');
  t.equal(made.task_name, 'BUILDING', 'building');
  t.equal(made.instance_count, 3, 'with 3 instances');
  const id = String(made.id);
  const get = async (): Promise<Row> => (await request('GET', `${base}/${id}`, { token })).body.cluster as Row;
  const members = (c: Row) => c.instances as Row[];
  // What a user waits for: the task over with n members, every one ACTIVE.
  // A task that ended with a fault ends the wait at once, saying why.
  const settled = async (n: number, timeoutMs: number): Promise<Row> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const c = await get();
      const over = (c.task as Row).name === 'NONE';
      if (over && c.fault) throw new Error(`cluster c1's task failed: ${JSON.stringify(c.fault).slice(0, 3000)}`);
      if (over && members(c).length === n && members(c).every((m) => m.status === 'ACTIVE')) return c;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} ACTIVE members: ${JSON.stringify(c)}`);
      await new Promise((res) => setTimeout(res, 500));
    }
  };
  const built = await settled(3, 900_000);

  // GET /clusters/{id}: Trove's view (task ids, members with status, flavor, volume, ip).
  t.same(built.task, { id: 1, name: 'NONE', description: 'No tasks for the cluster.' }, 'show: the task with Trove\'s id and description');
  t.same(built.datastore, { type: 'mariadb', version: '10.11' }, 'show: the datastore');
  const m0 = members(built)[0]!;
  t.same(Object.keys(m0).sort(), ['flavor', 'id', 'ip', 'links', 'name', 'port', 'status', 'type', 'volume'], 'show: each member\'s fields');
  t.equal(m0.type, 'member', 'a Galera member\'s type is member');
  t.same(m0.volume, { size: 1 }, 'its volume');
  t.equal((m0.flavor as Row).id, 'small', 'its flavor');
  t.equal((built.ip as string[]).length, 3, 'the cluster\'s ip list: one per member');
  const listed = (await request('GET', base, { token })).body.clusters as Row[];
  t.same(Object.keys(members(listed[0]!)[0]!).sort(), ['id', 'links', 'name', 'type'], 'list: members without server details, as Trove');
  await refused('another project\'s cluster', request('GET', `/v1.0/other/clusters/${id}`, { token: other }), 404, /does not exist/);

  // cluster list, show, list-instances.
  const list = await os.json<Row[]>('database', 'cluster', 'list');
  t.same(list, [{ ID: id, Name: 'c1', Datastore: 'mariadb', 'Datastore Version': '10.11', 'Task Name': 'NONE' }], 'cluster list');
  const shown = await os.json<Row>('database', 'cluster', 'show', 'c1');
  t.equal(shown.id, id, 'cluster show by name');
  t.equal(shown.task_name, 'NONE', 'cluster show: task_name');
  t.equal(shown.task_description, 'No tasks for the cluster.', 'cluster show: task_description');
  t.equal(shown.instance_count, 3, 'cluster show: instance_count');
  t.match(String(shown.ip), /^127\.0\.0\.1, 127\.0\.0\.1, 127\.0\.0\.1$/, 'cluster show: ip');
  const instances = await os.json<Row[]>('database', 'cluster', 'list', 'instances', 'c1');
  t.same(instances.map((i) => [i['Flavor ID'], i.Size, i.Status]), [['small', 1, 'ACTIVE'], ['small', 1, 'ACTIVE'], ['small', 1, 'ACTIVE']], 'cluster list instances: flavor, size, status');
  t.same(instances.map((i) => i.Name), ['c1-member-1', 'c1-member-2', 'c1-member-3'], 'members named NAME-member-N');

  // A member's detail: Trove's instance view, naming its cluster.
  const ids = instances.map((i) => String(i.ID));
  const detail = await request('GET', `${base}/${id}/instances/${ids[1]}`, { token });
  t.equal(detail.status, 200, 'GET /clusters/{id}/instances/{iid}');
  t.equal(detail.body.instance.cluster_id, id, 'the member names its cluster');
  t.equal(detail.body.instance.status, 'ACTIVE', 'and shows its status');
  await refused('a member of another cluster', request('GET', `${base}/${id}/instances/00000000-0000-4000-8000-000000000000`, { token }), 404, /not a member of cluster c1/);

  // Data: a row written through one member is read through the others.
  const rootPassword = String((await os.json<Row>('database', 'root', 'enable', ids[0]!)).password);
  const port = async (iid: string) => Number(((await request('GET', `/v1.0/shop/instances/${iid}`, { token })).body.instance as Row).port);
  const sql = async (iid: string, q: string) => {
    const r = await mariadb(await port(iid), 'root', rootPassword, q);
    if (r.code !== 0) throw new Error(`on ${iid}: ${r.stderr}`);
    return r.stdout.trim();
  };
  await sql(ids[0]!, 'CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, v TEXT); INSERT INTO shop.t VALUES (1, \'written on member 1\')');
  for (const iid of ids.slice(1)) t.equal(await waitFor('the row on every member', async () => sql(iid, 'SELECT v FROM shop.t WHERE id = 1').catch(() => undefined), 60_000), 'written on member 1', 'a row written on member 1 is read on another member');

  // grow: a fourth member joins and has the data.
  await os.ok('database', 'cluster', 'grow', 'c1', '--instance', INSTANCE);
  const growing = await get();
  t.equal((growing.task as Row).name, 'GROWING_CLUSTER', 'after grow: the task is GROWING_CLUSTER');
  const grown = await settled(4, 900_000);
  const added = members(grown).find((m) => !ids.includes(String(m.id)))!;
  t.equal(added.name, 'c1-member-4', 'the new member');
  t.equal(await waitFor('the new member has the row', async () => sql(String(added.id), 'SELECT v FROM shop.t WHERE id = 1').catch(() => undefined), 60_000), 'written on member 1', 'the grown member has the cluster\'s data');
  await sql(String(added.id), 'INSERT INTO shop.t VALUES (2, \'written on member 4\')');

  await refused('shrink of an instance that is not a member', post(`${base}/${id}`, { shrink: [{ id: '00000000-0000-4000-8000-000000000000' }] }), 400, /is not a member of cluster c1/);
  await refused('shrink below 3 members', post(`${base}/${id}`, { shrink: [{ id: ids[0] }, { id: ids[1] }] }), 400, /would keep 2 members: a galera cluster needs at least 3/);

  // shrink: member 4 leaves; the rest keep every row.
  await os.ok('database', 'cluster', 'shrink', 'c1', String(added.id));
  const shrunk = await settled(3, 600_000);
  t.same(members(shrunk).map((m) => m.id), ids, 'after shrink: the first three remain');
  t.equal(await sql(ids[2]!, 'SELECT GROUP_CONCAT(id ORDER BY id) FROM shop.t'), '1,2', 'every row is kept, the removed member\'s write too');

  // reset-status on an idle cluster: task NONE, ACTIVE members stay ACTIVE.
  await os.ok('database', 'cluster', 'reset', 'status', 'c1');
  const reset = await get();
  t.equal((reset.task as Row).name, 'NONE', 'reset-status: the task is NONE');
  t.ok(members(reset).every((m) => m.status === 'ACTIVE'), 'and the members stay ACTIVE');

  // delete: the cluster and its members go away.
  // delete: while it runs (task DELETING), a grow is refused.
  let cliDone = false;
  const deleting = os.ok('database', 'cluster', 'delete', 'c1').finally(() => (cliDone = true));
  for (let seen = false; !seen;) {
    const r = await request('GET', `${base}/${id}`, { token });
    if (r.status === 404) throw new Error('the cluster was gone before its task was seen DELETING');
    if (cliDone && (r.body.cluster.task as Row).name === 'NONE') await deleting; // the CLI failed: its error ends the test
    seen = (r.body.cluster.task as Row).name === 'DELETING';
    if (!seen) await new Promise((res) => setTimeout(res, 50));
  }
  await refused('grow of a cluster being deleted', post(`${base}/${id}`, { grow: [member] }), 409, /is being deleted/);
  await deleting;
  await waitFor('the cluster is gone', async () => (await request('GET', `${base}/${id}`, { token })).status === 404, 600_000);
  t.same(await os.json<Row[]>('database', 'cluster', 'list'), [], 'cluster list is empty');
  const left = (await os.json<Row[]>('database', 'instance', 'list')).filter((i) => ids.includes(String(i.ID)));
  t.same(left, [], 'and no member is listed as an instance');
});
