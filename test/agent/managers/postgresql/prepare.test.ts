// Prepare end to end on a real postgres started by the agent.
import t from 'tap';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { status as Status } from '@grpc/grpc-js';
import { startAgent, call, collect, type AgentProcess } from '../../../support/agent.js';
import { psql, psqlAdmin } from '../../../support/psql.js';
import { DatastoreState, type GetStatusResponse, type PrepareResponse } from '../../../../proto/gen/coffer/agent/v1/lifecycle.js';

const status = (a: AgentProcess) => call<object, GetStatusResponse>(a.clients.lifecycle, 'getStatus', {});

const PREPARE = {
  datastoreVersion: '15',
  rootPassword: '',
  databases: [{ name: 'shop', characterSet: 'UTF8', collation: 'C' }],
  users: [{ name: 'alice', host: '', password: 'Al1ce-pass', databases: ['shop'], rules: [] }],
  overrides: { max_connections: '77', work_mem: '8MB' },
  restore: undefined, replicaOf: undefined,
};

t.test('Prepare turns a fresh instance into a secured, running PostgreSQL', async (t) => {
  const agent = await startAgent(t, { datastore: 'postgresql' });
  t.equal((await status(agent)).state, DatastoreState.DATASTORE_STATE_NEW, 'a fresh instance is NEW');

  const events = await collect<PrepareResponse>(agent.clients.lifecycle.prepare(PREPARE));
  const phases = events.filter((e) => e.progress).map((e) => e.progress!.phase);
  t.same(phases.slice(0, 5), ['validate', 'configure', 'init-datadir', 'start', 'secure'], 'progress phases in order');
  const result = events.at(-1)!.result;
  t.equal(result?.state, DatastoreState.DATASTORE_STATE_ACTIVE);
  t.match(result!.serverVersion, /^PostgreSQL 15\./);

  const s = await status(agent);
  t.equal(s.state, DatastoreState.DATASTORE_STATE_ACTIVE);
  t.equal(s.datastore, 'postgresql');
  t.ok(s.volume!.dataBytes > 0, 'status shows the data volume in use');

  // The created user logs in over TCP with psql and sees its database.
  const dbs = await psql(agent.datastorePort, 'alice', 'Al1ce-pass', 'SELECT datname FROM pg_database ORDER BY 1', 'shop');
  t.equal(dbs.code, 0, dbs.stderr);
  t.ok(dbs.stdout.split('\n').includes('shop'), 'alice sees shop');
  const coll = await psql(agent.datastorePort, 'alice', 'Al1ce-pass', "SELECT pg_encoding_to_char(encoding) || ' ' || datcollate FROM pg_database WHERE datname = 'shop'", 'shop');
  t.equal(coll.stdout, 'UTF8 C', 'the database has the requested encoding and collation');
  const create = await psql(agent.datastorePort, 'alice', 'Al1ce-pass', 'CREATE TABLE t (id int); INSERT INTO t VALUES (1); SELECT count(*) FROM t', 'shop');
  t.equal(create.stdout, '1', 'alice can create and fill a table in her database');
  const maxConn = await psql(agent.datastorePort, 'alice', 'Al1ce-pass', 'SHOW max_connections', 'shop');
  t.equal(maxConn.stdout, '77', 'a restart-only override is in force from the first start');
  const workMem = await psql(agent.datastorePort, 'alice', 'Al1ce-pass', 'SHOW work_mem', 'shop');
  t.equal(workMem.stdout, '8MB');
  const wrong = await psql(agent.datastorePort, 'alice', 'wrong', 'SELECT 1', 'shop');
  t.not(wrong.code, 0, 'a wrong password is refused');
  const other = await psql(agent.datastorePort, 'alice', 'Al1ce-pass', 'SELECT 1', 'postgres');
  t.not(other.code, 0, 'alice cannot connect to a database she was not granted');

  // Authentication: the agent's role only by peer over the socket; scram for everyone else.
  const overTcp = await psql(agent.datastorePort, 'coffer_admin', '', 'SELECT 1');
  t.not(overTcp.code, 0, 'the agent role cannot log in over TCP');
  const hba = readFileSync(path.join(agent.baseDir, 'etc', 'pg_hba.conf'), 'utf8');
  t.notMatch(hba, /\btrust\b/, 'nothing is trust');
  t.notMatch(hba, /^host\S*\s.*\b(md5|password|peer|ident)\b/m, 'network lines use only scram-sha-256 or reject');
  const admin = await psqlAdmin(agent.baseDir, agent.datastorePort, 'SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user');
  t.equal(admin.stdout, 'coffer_admin|t', 'root on the host reaches the agent role by peer');
  const roles = await psqlAdmin(agent.baseDir, agent.datastorePort, "SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles WHERE rolname !~ '^pg_'");
  t.equal(roles.stdout, 'alice,coffer_admin', 'no postgres role, no root without a root password');
  const verifier = await psqlAdmin(agent.baseDir, agent.datastorePort, "SELECT left(rolpassword, 14) FROM pg_authid WHERE rolname = 'alice'");
  t.equal(verifier.stdout, 'SCRAM-SHA-256$', 'the password is stored as a SCRAM verifier');
  t.equal(statSync(path.join(agent.baseDir, 'data')).mode & 0o777, 0o700, 'data dir is 0700');
  t.equal(statSync(path.join(agent.baseDir, 'data')).uid, Number(readFileSync('/etc/passwd', 'utf8').match(/^postgres:x:(\d+):/m)![1]), 'data dir belongs to postgres');

  // A second Prepare is refused and changes nothing.
  const again = collect<PrepareResponse>(agent.clients.lifecycle.prepare({ ...PREPARE, databases: [{ name: 'other', characterSet: '', collation: '' }], users: [] }));
  await t.rejects(again, { code: Status.FAILED_PRECONDITION });
  const after = await psqlAdmin(agent.baseDir, agent.datastorePort, "SELECT count(*) FROM pg_database WHERE datname = 'other'");
  t.equal(after.stdout, '0', 'the second Prepare created nothing');
  t.equal((await status(agent)).state, DatastoreState.DATASTORE_STATE_ACTIVE, 'still ACTIVE');
});

t.test('Prepare with a root password enables the superuser root', async (t) => {
  const agent = await startAgent(t, { datastore: 'postgresql' });
  await collect(agent.clients.lifecycle.prepare({ ...PREPARE, rootPassword: 'R00t-secret!', users: [], databases: [] }));
  const r = await psql(agent.datastorePort, 'root', 'R00t-secret!', 'SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user');
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'root|t');
});

t.test('a bad Prepare is refused before anything happens', async (t) => {
  const agent = await startAgent(t, { datastore: 'postgresql' });
  const noDb = (name: string) => ({ databases: [{ name, characterSet: '', collation: '' }] });
  const oneUser = (name: string) => ({ users: [{ name, host: '', password: 'pw-12345', databases: [], rules: [] }] });
  const cases: Array<[string, object]> = [
    ['hostile database name', noDb("x'; DROP DATABASE postgres; --")],
    ['quote in a database name', noDb('a"b')],
    ['newline in a database name', noDb('a\nb')],
    ['64-character database name', noDb('d'.repeat(64))],
    ['reserved database', noDb('template1')],
    ['reserved database, other case', noDb('Postgres')],
    ['hostile user name', oneUser("x'; DROP ROLE coffer_admin; --")],
    ['reserved user', oneUser('postgres')],
    ['the agent role', oneUser('coffer_admin')],
    ['a pg_ role', oneUser('pg_monitor')],
    ['root as a user', oneUser('root')],
    ['a host restriction', { users: [{ name: 'bob', host: '10.0.0.1', password: 'pw-12345', databases: [], rules: [] }] }],
    ['user granted a database not created', { users: [{ name: 'bob', host: '', password: 'pw-12345', databases: ['nope'], rules: [] }] }],
    ['hostile encoding', { databases: [{ name: 'x', characterSet: "UTF8' TEMPLATE template1 --", collation: '' }] }],
    ['unknown override', { overrides: { no_such_thing: '1' } }],
    ['agent-managed override', { overrides: { listen_addresses: '*' } }],
    ['newline in override', { overrides: { log_statement: "all\nlisten_addresses = '*'" } }],
    ['override out of range', { overrides: { max_connections: '5' } }],
    ['override with a wrong unit', { overrides: { work_mem: '8parsecs' } }],
    ['wrong version', { datastoreVersion: '9.6' }],
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
