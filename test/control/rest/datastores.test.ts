// PostgreSQL 15 and Redis 7.0 through the control, as a Trove user drives
// them: instance create, connect with what the API gave, back up, and a new
// instance from the backup holding the data. And TLS for MariaDB's and
// PostgreSQL's clients, with the certificate the deployment's CA issued. Real postgres and redis-server,
// started by the agents the control starts.
import t from 'tap';
import path from 'node:path';
import { startControl, type ControlHarness } from '../../support/control.js';
import { mariadb } from '../../support/mariadb-client.js';
import { psql } from '../../support/psql.js';
import { redisCli } from '../../support/redis-cli.js';
import { restClient, troveSteps } from '../../support/openstack/rest.js';

type Row = Record<string, unknown>;

t.setTimeout(600_000);

// One control serves every subtest, each on instances of its own (the
// suite's time is watched: a control's start and stop is a few seconds of
// CPU on a loaded 2-core box).
let control: ControlHarness;
let token: string;
t.before(async () => {
  control = await startControl(t);
  token = control.token('shop');
});

t.test('the catalog lists PostgreSQL 15 and Redis 7.0 as available', async (t) => {
  const request = restClient(control.restPort);
  for (const [ds, version] of [['postgresql', '15'], ['redis', '7.0']]) {
    const r = await request('GET', `/v1.0/shop/datastores/${ds}/versions`, { token });
    t.equal(r.status, 200, r.text);
    t.same(
      (r.body.versions as Row[]).map((v) => [v.name, v.active]),
      [[version, true]],
      `${ds} ${version} is active`,
    );
  }
});

t.test('PostgreSQL 15: create with a database and a user, back up, restore', async (t) => {
  const { create, backup } = troveSteps(t, restClient(control.restPort), 'shop', token);
  const source = await create('pg', {
    datastore: { type: 'postgresql', version: '15' },
    databases: [{ name: 'shop' }],
    users: [{ name: 'app', password: 'App-pass-1', databases: [{ name: 'shop' }] }],
  });
  const sql = (q: string, port = Number(source.port)) => psql(port, 'app', 'App-pass-1', q, 'shop');
  const made = await sql('CREATE TABLE orders (v int); INSERT INTO orders SELECT generate_series(1, 1000)');
  t.equal(made.code, 0, `the user reaches its database: ${made.stderr}`);
  const request = restClient(control.restPort);
  const users = `/v1.0/shop/instances/${String(source.id)}/users`;
  const added = await request('POST', users, { token, body: { users: [{ name: 'bob', password: 'Bob-pass-1', databases: [{ name: 'shop' }] }] } });
  t.equal(added.status, 202, `user create: ${added.text}`);
  const listed = await request('GET', users, { token });
  t.same((listed.body?.users as Row[] | undefined)?.map((u) => u.name).sort(), ['app', 'bob'], `user list: ${listed.text}`);
  // Access to a database is PostgreSQL's CONNECT on it; tables stay their owner's.
  const bob = await psql(Number(source.port), 'bob', 'Bob-pass-1', 'SELECT current_database()', 'shop');
  t.equal(bob.stdout.trim(), 'shop', `the new user connects to the database it was given: ${bob.stderr}`);
  const elsewhere = await psql(Number(source.port), 'bob', 'Bob-pass-1', 'SELECT 1', 'postgres');
  t.not(elsewhere.code, 0, 'and not to another');

  // TLS with the certificate the deployment's CA issued for the instance,
  // checked against that CA and the instance's id, the name in the
  // certificate (verify-full; the address goes in hostaddr).
  const tls = { PGSSLMODE: 'verify-full', PGSSLROOTCERT: path.join(control.dataDir, 'ca', 'instances-ca.crt'), PGHOST: String(source.id), PGHOSTADDR: '127.0.0.1' };
  const overTls = await psql(Number(source.port), 'app', 'App-pass-1', 'SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()', 'shop', tls);
  t.equal(overTls.code, 0, overTls.stderr);
  t.match(overTls.stdout, /^t\|TLSv1\.[23]$/, `the session is encrypted: ${overTls.stdout}`);
  const plain = await psql(Number(source.port), 'app', 'App-pass-1', 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()', 'shop', { PGSSLMODE: 'disable' });
  t.equal(plain.stdout, 'f', 'a client that does not ask for TLS still connects (TLS is offered, not forced)');
  const rootOn = await request('POST', `/v1.0/shop/instances/${String(source.id)}/root`, { token });
  t.equal(rootOn.status, 200, `root enable: ${rootOn.text}`);
  const asRoot = await psql(Number(source.port), String(rootOn.body?.user?.name), String(rootOn.body?.user?.password), 'SELECT rolsuper FROM pg_roles WHERE rolname = current_user');
  t.equal(asRoot.stdout.trim(), 't', `root is a superuser: ${asRoot.stderr}`);

  const full = await backup('pg-full', String(source.id));
  t.equal(full.datastore && (full.datastore as Row).type, 'postgresql');

  const copy = await create('pg-copy', { datastore: { type: 'postgresql', version: '15' }, restorePoint: { backupRef: String(full.id) } });
  const rows = await sql('SELECT count(*), sum(v) FROM orders', Number(copy.port));
  t.equal(rows.code, 0, rows.stderr);
  t.match(rows.stdout, /1000\|500500/, 'the restored instance holds the rows, and the user can read them');
});

t.test('Redis 7.0: create, enable root, TLS only, back up, restore', async (t) => {
  const request = restClient(control.restPort);
  const { create, backup } = troveSteps(t, request, 'shop', token);
  const withDb = await request('POST', '/v1.0/shop/instances', {
    token,
    body: { instance: { name: 'cache-db', flavorRef: 'small', volume: { size: 1 }, datastore: { type: 'redis', version: '7.0' }, databases: [{ name: 'shop' }] } },
  });
  t.equal(withDb.status, 400, 'databases for Redis: 400 before anything is built');
  t.match(withDb.body?.badRequest?.message, /^redis has no databases/);
  const source = await create('cache', { datastore: { type: 'redis', version: '7.0' } });
  const root = async (inst: Row): Promise<string> => {
    const r = await request('POST', `/v1.0/shop/instances/${String(inst.id)}/root`, { token });
    t.equal(r.status, 200, `root enable: ${r.text}`);
    return String(r.body.user.password);
  };
  const password = await root(source);
  // The instance serves TLS only, with the certificate the deployment's CA issued for it.
  const tls = { ca: control.datastoreCa };
  const set = await redisCli(Number(source.port), '', password, ['SET', 'greeting', 'hello from before the backup'], tls);
  t.equal(set.stdout.trim(), 'OK', `root writes a key: ${set.stderr}`);
  const denied = await redisCli(Number(source.port), '', '', ['GET', 'greeting'], tls);
  t.match(denied.stdout + denied.stderr, /NOAUTH|WRONGPASS/, 'without the password: refused');
  const plain = await redisCli(Number(source.port), '', password, ['GET', 'greeting']);
  t.not(plain.code, 0, 'a client without TLS is refused (no plaintext port)');
  t.notMatch(plain.stdout, /hello/, 'and reads nothing');

  const full = await backup('cache-full', String(source.id));
  const copy = await create('cache-copy', { datastore: { type: 'redis', version: '7.0' }, restorePoint: { backupRef: String(full.id) } });
  const got = await redisCli(Number(copy.port), '', await root(copy), ['GET', 'greeting'], tls);
  t.equal(got.stdout.trim(), 'hello from before the backup', 'the restored instance holds the key');
});

t.test('MariaDB offers TLS with the instance\'s certificate; plain connections still work', async (t) => {
  const { create } = troveSteps(t, restClient(control.restPort), 'shop', token);
  const inst = await create('orders', {
    datastore: { type: 'mariadb', version: '10.11' },
    databases: [{ name: 'orders' }],
    users: [{ name: 'app', password: 'App-pass-1', databases: [{ name: 'orders' }] }],
  });
  const ca = `--ssl-ca=${path.join(control.dataDir, 'ca', 'instances-ca.crt')}`;
  const overTls = await mariadb(Number(inst.port), 'app', 'App-pass-1', "SHOW SESSION STATUS LIKE 'Ssl_version'", 'orders', ['--ssl', ca]);
  t.equal(overTls.code, 0, overTls.stderr);
  t.match(overTls.stdout.trim(), /^Ssl_version\tTLSv1\.[23]$/, `the session is encrypted: ${overTls.stdout.trim()}`);
  const plain = await mariadb(Number(inst.port), 'app', 'App-pass-1', "SHOW SESSION STATUS LIKE 'Ssl_version'", 'orders', ['--skip-ssl']);
  t.equal(plain.code, 0, plain.stderr);
  t.equal(plain.stdout.trim(), 'Ssl_version', 'a client that does not ask for TLS still connects, unencrypted (offered, not forced)');
});
