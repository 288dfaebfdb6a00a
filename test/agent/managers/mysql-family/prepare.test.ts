// Prepare end to end on a real mariadbd started by the agent.
import t from 'tap';
import { statSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { status as Status } from '@grpc/grpc-js';
import { startAgent, call, collect, type AgentProcess } from '../../../support/agent.js';
import { mariadb, mariadbSocket } from '../../../support/mariadb-client.js';
import { DatastoreState, type GetStatusResponse, type PrepareResponse } from '../../../../proto/gen/coffer/agent/v1/lifecycle.js';

const status = (a: AgentProcess) => call<object, GetStatusResponse>(a.clients.lifecycle, 'getStatus', {});

const PREPARE = {
  datastoreVersion: '10.11',
  rootPassword: '',
  databases: [{ name: 'shop', characterSet: 'utf8mb4', collation: 'utf8mb4_bin' }],
  users: [{ name: 'alice', host: '%', password: 'Al1ce-pass', databases: ['shop'], rules: [] }],
  overrides: { max_connections: '77' },
  restore: undefined, replicaOf: undefined,
};

t.test('Prepare turns a fresh instance into a secured, running MariaDB', async (t) => {
  const agent = await startAgent(t);
  const before = await status(agent);
  t.equal(before.state, DatastoreState.DATASTORE_STATE_NEW, 'a fresh instance is NEW');

  const events = await collect<PrepareResponse>(agent.clients.lifecycle.prepare(PREPARE));
  const phases = events.filter((e) => e.progress).map((e) => e.progress!.phase);
  t.same(phases.slice(0, 4), ['validate', 'configure', 'init-datadir', 'start'], 'progress phases in order');
  const percents = events.filter((e) => e.progress).map((e) => e.progress!.percent);
  t.same([...percents].sort((a, b) => a - b), percents, 'percent never goes back');
  const result = events.at(-1)!.result;
  t.ok(result, 'the stream ends with a result');
  t.equal(result!.state, DatastoreState.DATASTORE_STATE_ACTIVE);
  t.match(result!.serverVersion, /MariaDB/);

  const s = await status(agent);
  t.equal(s.state, DatastoreState.DATASTORE_STATE_ACTIVE);
  t.ok(s.uptimeSeconds >= 0 && s.volume!.dataBytes > 0, 'status shows uptime and data volume use');
  t.equal(s.datastorePort, agent.datastorePort);

  // The created user logs in over TCP and sees its database.
  const dbs = await mariadb(agent.datastorePort, 'alice', 'Al1ce-pass', 'SHOW DATABASES');
  t.equal(dbs.code, 0, dbs.stderr);
  t.ok(dbs.stdout.split('\n').includes('shop'), 'alice sees shop');
  const coll = await mariadb(agent.datastorePort, 'alice', 'Al1ce-pass', "SELECT DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME='shop'");
  t.equal(coll.stdout.trim(), 'utf8mb4_bin', 'the database has the requested collation');
  const maxConn = await mariadb(agent.datastorePort, 'alice', 'Al1ce-pass', 'SELECT @@max_connections');
  t.equal(maxConn.stdout.trim(), '77', 'the override is in force from the first start');
  const wrong = await mariadb(agent.datastorePort, 'alice', 'wrong', 'SELECT 1');
  t.not(wrong.code, 0, 'a wrong password is refused');

  // The agent's own account: a 0600 secret, reachable only over the socket.
  const secretFile = path.join(agent.baseDir, 'agent', 'admin.secret');
  t.equal(statSync(secretFile).mode & 0o777, 0o600, 'admin secret is 0600');
  const secret = readFileSync(secretFile, 'utf8').trim();
  const overTcp = await mariadb(agent.datastorePort, 'coffer_admin', secret, 'SELECT 1');
  t.not(overTcp.code, 0, 'the admin account cannot log in over TCP');

  const sock = path.join(agent.baseDir, 'run', 'mysqld.sock');
  const anon = await mariadbSocket(sock, "SELECT COUNT(*) FROM mysql.user WHERE User=''");
  t.equal(anon.stdout.trim(), '0', 'no anonymous users');
  const test = await mariadbSocket(sock, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME='test'");
  t.equal(test.stdout.trim(), '0', 'no test database');
  const remoteRoot = await mariadbSocket(sock, "SELECT COUNT(*) FROM mysql.user WHERE User='root' AND Host<>'localhost'");
  t.equal(remoteRoot.stdout.trim(), '0', 'no remote root without a root password');

  // A second Prepare is refused and changes nothing.
  const again = collect<PrepareResponse>(agent.clients.lifecycle.prepare({ ...PREPARE, databases: [{ name: 'other', characterSet: '', collation: '' }], users: [] }));
  await t.rejects(again, { code: Status.FAILED_PRECONDITION });
  const after = await mariadb(agent.datastorePort, 'alice', 'Al1ce-pass', 'SHOW DATABASES');
  t.notOk(after.stdout.split('\n').includes('other'), 'the second Prepare created nothing');
  t.equal((await status(agent)).state, DatastoreState.DATASTORE_STATE_ACTIVE, 'still ACTIVE');

  // Secrets never reach the log.
  const log = agent.logs.join('\n');
  t.ok(log.length > 0, 'the agent logged');
  t.notOk(log.includes('Al1ce-pass'), 'the user password is not in the log');
  t.notOk(log.includes(secret), 'the admin secret is not in the log');
});

t.test('Prepare with a root password enables root@%', async (t) => {
  const agent = await startAgent(t);
  await collect(agent.clients.lifecycle.prepare({ ...PREPARE, rootPassword: 'R00t-secret!', users: [], databases: [] }));
  const r = await mariadb(agent.datastorePort, 'root', 'R00t-secret!', 'SELECT CURRENT_USER()');
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout.trim(), 'root@%');
});

t.test('a bad Prepare is refused before anything happens', async (t) => {
  const agent = await startAgent(t);
  const cases: Array<[string, object]> = [
    ['hostile database name', { databases: [{ name: "x'; DROP DATABASE mysql; --", characterSet: '', collation: '' }] }],
    ['reserved database', { databases: [{ name: 'mysql', characterSet: '', collation: '' }] }],
    ['reserved user', { users: [{ name: 'root', host: '%', password: 'pw-12345', databases: [], rules: [] }] }],
    ['user granted a database not created', { users: [{ name: 'bob', host: '%', password: 'pw-12345', databases: ['nope'], rules: [] }] }],
    ['unknown override', { overrides: { no_such_thing: '1' } }],
    ['newline in override', { overrides: { sql_mode: 'ANSI\n[mysqld]\ninit_file=/etc/shadow' } }],
    ['wrong version', { datastoreVersion: '5.5' }],
    ['password with a newline', { rootPassword: 'a\nb' }],
  ];
  for (const [name, patch] of cases) {
    const req = { ...PREPARE, databases: [], users: [], overrides: {}, ...patch };
    await t.rejects(collect(agent.clients.lifecycle.prepare(req)), { code: Status.INVALID_ARGUMENT }, name);
  }
  const s = await status(agent);
  t.equal(s.state, DatastoreState.DATASTORE_STATE_NEW, 'still NEW: nothing was started');
  t.equal(s.volume!.dataBytes, 0, 'no data directory was initialised');
});
