// The real OpenStack CLI (python-troveclient) against a real coffer-control
// and a real MariaDB: instance create with --databases and --users, list,
// show, restart, resize volume, delete; databases, users, access and root;
// the catalog. Effects are checked in the database with the mariadb client.
// One instance is reused across the commands (the CLI takes 1-2 s a call).
import t from 'tap';
import { startControl } from '../../support/control.js';
import { mariadb } from '../../support/mariadb-client.js';
import { openstack } from '../../support/openstack/cli.js';
import { restClient, waitInstance } from '../../support/openstack/rest.js';

type Row = Record<string, unknown>;

// Some thirty CLI calls at 1-3 s each, plus a create, a restart and a resize.
t.setTimeout(600_000);

t.test('openstack database commands drive a real MariaDB through the REST bridge', async (t) => {
  const control = await startControl(t);
  const token = control.token('shop');
  const os = openstack(control.restPort, 'shop', token);
  const request = restClient(control.restPort);

  // Create with a database and a user.
  const created = await os.json<Row>('database', 'instance', 'create', 'orders', '--flavor', 'small', '--size', '1',
    '--datastore', 'mariadb', '--datastore-version', '10.11', '--databases', 'orders', '--users', 'app:App-pass-1');
  const id = String(created.id);
  t.equal(created.status, 'BUILD', 'instance create answers BUILD');
  t.equal(created.volume, 1, 'with the volume size asked for');

  // The catalog, while the instance builds (the CLI is slow to start: run side by side).
  const [datastores, ds, versions, flavors] = await Promise.all([
    os.json<Row[]>('datastore', 'list'),
    os.json<Row>('datastore', 'show', 'mariadb'),
    os.json<Row[]>('datastore', 'version', 'list', 'mariadb'),
    os.json<Row[]>('database', 'flavor', 'list'),
  ]);
  t.ok(datastores.some((d) => d.Name === 'mariadb'), 'datastore list shows mariadb');
  t.equal(ds.default_version, '10.11', 'datastore show names the default version');
  t.same(versions.map((v) => v.Name), ['10.11'], 'datastore version list');
  t.same(flavors.map((f) => f.ID), ['small', 'medium', 'large'], 'flavor list');
  const active = await waitInstance(request, 'shop', token, id, (i) => i?.status === 'ACTIVE' || i?.status === 'ERROR');
  t.equal(active!.status, 'ACTIVE', 'the instance becomes ACTIVE');
  const port = Number(active!.port);

  const [shown, listed] = await Promise.all([os.json<Row>('database', 'instance', 'show', id), os.json<Row[]>('database', 'instance', 'list')]);
  t.equal(shown.name, 'orders', 'instance show');
  t.equal(shown.datastore, 'mariadb');
  t.equal(shown.status, 'ACTIVE');
  t.same(listed.map((i) => i.ID), [id], 'instance list');

  const app = await mariadb(port, 'app', 'App-pass-1', 'SHOW DATABASES');
  t.equal(app.code, 0, app.stderr);
  t.ok(app.stdout.split('\n').includes('orders'), 'the --users user logs in and sees the --databases database');

  // Databases.
  await os.ok('database', 'db', 'create', id, 'inventory');
  const dbs = await os.json<Row[]>('database', 'db', 'list', id);
  t.ok(dbs.some((d) => d.Name === 'inventory') && dbs.some((d) => d.Name === 'orders'), 'db create, then db list shows both');

  // Users and access.
  await os.ok('database', 'user', 'create', id, 'bob', 'Bob-pass-1', '--host', '%', '--databases', 'inventory');
  const users = await os.json<Row[]>('database', 'user', 'list', id);
  t.ok(users.some((u) => u.Name === 'bob' && u.Host === '%'), 'user list shows bob@%');
  const bob = await os.json<Row>('database', 'user', 'show', id, 'bob', '--host', '%');
  t.equal(bob.name, 'bob', 'user show');
  let bobDbs = await mariadb(port, 'bob', 'Bob-pass-1', 'SHOW DATABASES');
  t.equal(bobDbs.code, 0, bobDbs.stderr);
  t.ok(bobDbs.stdout.split('\n').includes('inventory'), 'bob logs in and sees inventory');
  t.notOk(bobDbs.stdout.split('\n').includes('orders'), 'but not orders');

  await os.ok('database', 'user', 'grant', 'access', id, 'bob', 'orders', '--host', '%');
  const access = await os.json<Row[]>('database', 'user', 'show', 'access', id, 'bob', '--host', '%');
  t.same(access.map((a) => a.Name).sort(), ['inventory', 'orders'], 'user show access lists both databases');
  bobDbs = await mariadb(port, 'bob', 'Bob-pass-1', 'SHOW DATABASES');
  t.ok(bobDbs.stdout.split('\n').includes('orders'), 'after grant access, bob sees orders');
  await os.ok('database', 'user', 'revoke', 'access', id, 'bob', 'orders', '--host', '%');
  bobDbs = await mariadb(port, 'bob', 'Bob-pass-1', 'SHOW DATABASES');
  t.notOk(bobDbs.stdout.split('\n').includes('orders'), 'after revoke access, bob no longer sees orders');

  // Root.
  const root = await os.json<Row>('database', 'root', 'enable', id);
  t.equal(root.name, 'root', 'root enable answers the root user');
  t.ok(String(root.password).length >= 8, 'and a password');
  const asRoot = await mariadb(port, 'root', String(root.password), 'SELECT CURRENT_USER()');
  t.equal(asRoot.code, 0, `root logs in with that password over TCP: ${asRoot.stderr}`);
  const rootShown = await os.json<Row>('database', 'root', 'show', id);
  t.equal(rootShown.is_root_enabled, true, 'root show says enabled');

  // Restart keeps the data.
  const put = await mariadb(port, 'app', 'App-pass-1', 'CREATE TABLE t (v INT); INSERT INTO t VALUES (42)', 'orders');
  t.equal(put.code, 0, put.stderr);
  await os.ok('database', 'instance', 'restart', id);
  const rebooted = await waitInstance(request, 'shop', token, id, (i) => i?.status === 'ACTIVE' || i?.status === 'ERROR');
  t.equal(rebooted!.status, 'ACTIVE', 'instance restart: back to ACTIVE');
  const after = await mariadb(Number(rebooted!.port), 'app', 'App-pass-1', 'SELECT v FROM t', 'orders');
  t.equal(after.stdout.trim(), '42', 'the data survived the restart');

  // Resize volume.
  await os.ok('database', 'instance', 'resize', 'volume', id, '2');
  const resized = await waitInstance(request, 'shop', token, id, (i) => (i?.status === 'ACTIVE' && (i.volume as { size: number }).size === 2) || i?.status === 'ERROR');
  t.equal((resized!.volume as { size: number }).size, 2, 'instance resize volume: 2 GB, ACTIVE');

  // Deletes.
  await os.ok('database', 'user', 'delete', id, 'bob', '--host', '%');
  const gone = await mariadb(port, 'bob', 'Bob-pass-1', 'SELECT 1');
  t.not(gone.code, 0, 'user delete: bob can no longer log in');
  await os.ok('database', 'db', 'delete', id, 'inventory');
  const left = await os.json<Row[]>('database', 'db', 'list', id);
  t.notOk(left.some((d) => d.Name === 'inventory'), 'db delete: inventory is gone');

  // Another project's instance does not exist for the CLI either.
  const other = openstack(control.restPort, 'rival', control.token('rival'));
  const peek = await other.run('database', 'instance', 'show', id);
  t.not(peek.code, 0, 'another project cannot show the instance');
  t.match(peek.stderr, /No instance with a name or ID/, 'it is not found for them');

  await os.ok('database', 'instance', 'delete', id);
  const deleted = await waitInstance(request, 'shop', token, id, (i) => i === null, 120_000);
  t.equal(deleted, null, 'instance delete: the instance goes away');
  const stopped = await mariadb(port, 'app', 'App-pass-1', 'SELECT 1');
  t.not(stopped.code, 0, 'and its datastore is stopped');
});
