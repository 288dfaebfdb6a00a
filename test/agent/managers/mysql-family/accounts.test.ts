// Every account RPC against a real MariaDB, checked with the real client,
// and a list of hostile names thrown at every one of them.
import t from 'tap';
import path from 'node:path';
import { status as Status } from '@grpc/grpc-js';
import { startAgent, call, collect, type AgentProcess, type TestLike } from '../../../support/agent.js';
import { mariadb, mariadbSocket } from '../../../support/mariadb-client.js';

const db = (name: string, characterSet = '', collation = '') => ({ name, characterSet, collation });
const user = (name: string, password: string, databases: string[] = [], host = '%') => ({ name, host, password, databases, rules: [] });

async function prepared(t: TestLike): Promise<AgentProcess> {
  const agent = await startAgent(t);
  await collect(agent.clients.lifecycle.prepare({ datastoreVersion: '', rootPassword: '', databases: [], users: [], overrides: {}, restore: undefined, replicaOf: undefined }));
  return agent;
}

t.test('databases: create, list with pagination, delete', async (t) => {
  const agent = await prepared(t);
  const a = agent.clients.accounts;
  await call(a, 'createDatabases', { databases: [db('db_a'), db('db_b', 'latin1'), db('db_c', 'utf8mb4', 'utf8mb4_unicode_ci')] });
  const sock = path.join(agent.baseDir, 'run', 'mysqld.sock');
  const seen = await mariadbSocket(sock, "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'db\\_%' ORDER BY 1");
  t.same(seen.stdout.trim().split('\n'), ['db_a\tutf8mb4', 'db_b\tlatin1', 'db_c\tutf8mb4'], 'the server has the databases with their character sets');

  const p1 = await call<object, { databases: { name: string }[]; nextMarker: string }>(a, 'listDatabases', { page: { marker: '', limit: 2, includeMarker: false } });
  t.same(p1.databases.map((d) => d.name), ['db_a', 'db_b']);
  t.equal(p1.nextMarker, 'db_b');
  const p2 = await call<object, { databases: { name: string }[]; nextMarker: string }>(a, 'listDatabases', { page: { marker: p1.nextMarker, limit: 2, includeMarker: false } });
  t.same(p2.databases.map((d) => d.name), ['db_c']);
  t.equal(p2.nextMarker, '', 'last page has no marker');
  const all = await call<object, { databases: { name: string }[] }>(a, 'listDatabases', {});
  t.notOk(all.databases.some((d) => ['mysql', 'sys', 'information_schema', 'performance_schema'].includes(d.name)), 'system databases are not listed');

  await t.rejects(call(a, 'createDatabases', { databases: [db('db_new'), db('db_a')] }), { code: Status.ALREADY_EXISTS }, 'an existing name fails the batch');
  const none = await mariadbSocket(sock, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME='db_new'");
  t.equal(none.stdout.trim(), '0', 'and nothing of the batch was created');
  await t.rejects(call(a, 'createDatabases', { databases: [db('db_x', 'nosuchset')] }), { code: Status.INVALID_ARGUMENT });
  await t.rejects(call(a, 'createDatabases', { databases: [db('db_x', 'latin1', 'utf8mb4_bin')] }), { code: Status.INVALID_ARGUMENT }, 'collation of another charset');

  await call(a, 'deleteDatabase', { name: 'db_b' });
  const gone = await mariadbSocket(sock, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME='db_b'");
  t.equal(gone.stdout.trim(), '0', 'deleted');
  await t.rejects(call(a, 'deleteDatabase', { name: 'db_b' }), { code: Status.NOT_FOUND });
  await t.rejects(call(a, 'deleteDatabase', { name: 'mysql' }), { code: Status.INVALID_ARGUMENT }, 'a system database cannot be deleted');
});

t.test('users: create, get, list, access, update, passwords, delete', async (t) => {
  const agent = await prepared(t);
  const a = agent.clients.accounts;
  const port = agent.datastorePort;
  await call(a, 'createDatabases', { databases: [db('app'), db('app2'), db('my_db'), db('myxdb')] });
  await call(a, 'createUsers', { users: [user('bob', 'B0b-pass', ['app']), user('carol', 'C4rol-pass', [], '127.0.0.1')] });

  t.equal((await mariadb(port, 'bob', 'B0b-pass', 'SELECT 1')).code, 0, 'bob logs in');
  const bobDbs = await mariadb(port, 'bob', 'B0b-pass', 'SHOW DATABASES');
  t.ok(bobDbs.stdout.includes('app') && !bobDbs.stdout.includes('app2'), 'bob sees app only');

  const got = await call<object, { user: { name: string; host: string; databases: string[]; password: string } }>(a, 'getUser', { name: 'bob', host: '%' });
  t.same(got.user.databases, ['app']);
  t.equal(got.user.password, '', 'passwords are never returned');
  await t.rejects(call(a, 'getUser', { name: 'nobody', host: '%' }), { code: Status.NOT_FOUND });

  const list = await call<object, { users: { name: string; host: string }[]; nextMarker: string }>(a, 'listUsers', { page: { marker: '', limit: 1, includeMarker: false } });
  t.same(list.users.map((u) => u.name), ['bob']);
  t.equal(list.nextMarker, 'bob@%');
  const rest = await call<object, { users: { name: string; host: string }[] }>(a, 'listUsers', { page: { marker: list.nextMarker, limit: 10, includeMarker: false } });
  t.same(rest.users.map((u) => `${u.name}@${u.host}`), ['carol@127.0.0.1'], 'second page; the agent and system accounts are never listed');

  await call(a, 'grantAccess', { name: 'carol', host: '127.0.0.1', databases: ['my_db', 'app2'] });
  const access = await call<object, { databases: { name: string }[] }>(a, 'listAccess', { name: 'carol', host: '127.0.0.1' });
  t.same(access.databases.map((d) => d.name).sort(), ['app2', 'my_db']);
  const carolDbs = await mariadb(port, 'carol', 'C4rol-pass', 'SHOW DATABASES');
  t.ok(carolDbs.stdout.includes('my_db'), 'carol sees my_db');
  t.notOk(carolDbs.stdout.includes('myxdb'), 'the _ in my_db is not a wildcard: carol does not see myxdb');
  await call(a, 'revokeAccess', { name: 'carol', host: '127.0.0.1', database: 'app2' });
  t.notOk((await mariadb(port, 'carol', 'C4rol-pass', 'SHOW DATABASES')).stdout.includes('app2'), 'revoked');
  await t.rejects(call(a, 'revokeAccess', { name: 'carol', host: '127.0.0.1', database: 'app2' }), { code: Status.NOT_FOUND });
  await t.rejects(call(a, 'grantAccess', { name: 'carol', host: '127.0.0.1', databases: ['nope'] }), { code: Status.NOT_FOUND });

  await call(a, 'changePasswords', { users: [user('bob', 'N3w-bob-pass')] });
  t.not((await mariadb(port, 'bob', 'B0b-pass', 'SELECT 1')).code, 0, 'old password refused');
  t.equal((await mariadb(port, 'bob', 'N3w-bob-pass', 'SELECT 1')).code, 0, 'new password works');

  await call(a, 'updateUserAttributes', { name: 'bob', host: '%', newName: 'robert', newHost: '', newPassword: 'R0bert-pass' });
  t.equal((await mariadb(port, 'robert', 'R0bert-pass', 'SHOW DATABASES')).stdout.includes('app'), true, 'renamed user keeps its access and has the new password');
  t.not((await mariadb(port, 'bob', 'N3w-bob-pass', 'SELECT 1')).code, 0, 'the old name is gone');
  await t.rejects(
    call(a, 'updateUserAttributes', { name: 'robert', host: '%', newName: 'carol', newHost: '127.0.0.1', newPassword: '' }),
    { code: Status.ALREADY_EXISTS },
  );
  await t.rejects(call(a, 'updateUserAttributes', { name: 'robert', host: '%', newName: '', newHost: '', newPassword: '' }), { code: Status.INVALID_ARGUMENT });

  await t.rejects(call(a, 'createUsers', { users: [user('dave', 'D4ve-pass'), user('robert', 'x-pass-1')] }), { code: Status.ALREADY_EXISTS });
  t.not((await mariadb(port, 'dave', 'D4ve-pass', 'SELECT 1')).code, 0, 'the failed batch created nobody');

  await call(a, 'deleteUser', { name: 'robert', host: '%' });
  t.not((await mariadb(port, 'robert', 'R0bert-pass', 'SELECT 1')).code, 0, 'deleted user cannot log in');
  await t.rejects(call(a, 'deleteUser', { name: 'robert', host: '%' }), { code: Status.NOT_FOUND });
});

t.test('root: enable returns a password that works; disable removes it', async (t) => {
  const agent = await prepared(t);
  const a = agent.clients.accounts;
  t.same(await call(a, 'isRootEnabled', {}), { enabled: false });
  const r = await call<object, { user: { name: string; host: string }; password: string }>(a, 'enableRoot', { password: '' });
  t.equal(r.user.name, 'root');
  t.ok(r.password.length >= 20, 'a generated password');
  t.equal((await mariadb(agent.datastorePort, 'root', r.password, 'CREATE DATABASE by_root')).code, 0, 'root can do admin work');
  t.same(await call(a, 'isRootEnabled', {}), { enabled: true });
  await call(a, 'disableRoot', {});
  t.same(await call(a, 'isRootEnabled', {}), { enabled: false });
  t.not((await mariadb(agent.datastorePort, 'root', r.password, 'SELECT 1')).code, 0, 'root is gone');
});

const HOSTILE = [
  "x'; DROP DATABASE mysql; --",
  'a`b',
  'a"b',
  "a'b",
  'a b',
  'a\nb',
  'a\\b',
  '../etc',
  'a;b',
  '',
  'x'.repeat(300),
  'db\u0000x',
  '$(reboot)',
  'ünï',
];

t.test('hostile names get INVALID_ARGUMENT from every account RPC, and nothing runs', async (t) => {
  const agent = await prepared(t);
  const a = agent.clients.accounts;
  await call(a, 'createDatabases', { databases: [db('keep')] });
  await call(a, 'createUsers', { users: [user('keeper', 'K33p-pass', ['keep'])] });
  const sock = path.join(agent.baseDir, 'run', 'mysqld.sock');
  const snapshot = async () =>
    (await mariadbSocket(sock, "SELECT GROUP_CONCAT(SCHEMA_NAME ORDER BY 1) FROM information_schema.SCHEMATA")).stdout +
    (await mariadbSocket(sock, "SELECT GROUP_CONCAT(CONCAT(User,'@',Host) ORDER BY 1) FROM mysql.user")).stdout;
  const before = await snapshot();

  for (const bad of HOSTILE) {
    const tries: Array<[string, object]> = [
      ['createDatabases', { databases: [db(bad)] }],
      ['createDatabases', { databases: [db('ok_db', bad)] }],
      ['createDatabases', { databases: [db('ok_db', '', bad)] }],
      ['deleteDatabase', { name: bad }],
      ['createUsers', { users: [user(bad, 'pw-12345')] }],
      ['createUsers', { users: [user('ok_user', 'pw-12345', [], bad)] }],
      ['createUsers', { users: [user('ok_user', 'pw-12345', [bad])] }],
      ['getUser', { name: bad, host: '%' }],
      ['getUser', { name: 'keeper', host: bad }],
      ['deleteUser', { name: bad, host: '%' }],
      ['updateUserAttributes', { name: bad, host: '%', newName: 'x', newHost: '', newPassword: '' }],
      ['updateUserAttributes', { name: 'keeper', host: '%', newName: bad, newHost: '', newPassword: '' }],
      ['updateUserAttributes', { name: 'keeper', host: '%', newName: '', newHost: bad, newPassword: '' }],
      ['changePasswords', { users: [user(bad, 'pw-12345')] }],
      ['grantAccess', { name: bad, host: '%', databases: ['keep'] }],
      ['grantAccess', { name: 'keeper', host: '%', databases: [bad] }],
      ['revokeAccess', { name: 'keeper', host: '%', database: bad }],
      ['listAccess', { name: bad, host: '%' }],
    ];
    for (const [method, req] of tries) {
      // '' as a host means '%' (Trove's default), so it is valid there.
      if (bad === '' && JSON.stringify(req).includes('"host":""') && method !== 'updateUserAttributes') continue;
      if (bad === '' && method === 'updateUserAttributes' && (req as { newHost?: string }).newHost === '' && (req as { name: string }).name === 'keeper' && (req as { newName: string }).newName === '') continue;
      if (bad === '' && ['createDatabases'].includes(method) && JSON.stringify(req).includes('ok_db')) continue;
      await t.rejects(call(a, method, req), { code: Status.INVALID_ARGUMENT }, `${method} refuses ${JSON.stringify(bad).slice(0, 40)}`);
    }
  }
  // Passwords: control characters are refused; quotes are fine (escaped).
  await t.rejects(call(a, 'changePasswords', { users: [user('keeper', 'a\nb')] }), { code: Status.INVALID_ARGUMENT });
  await call(a, 'changePasswords', { users: [user('keeper', "it's-\"quoted\"\\")] });
  t.equal((await mariadb(agent.datastorePort, 'keeper', "it's-\"quoted\"\\", 'SELECT 1')).code, 0, 'a password with quotes works as given');
  // Reserved names.
  for (const name of ['root', 'coffer_admin', 'mariadb.sys', 'mysql']) {
    await t.rejects(call(a, 'createUsers', { users: [user(name, 'pw-12345')] }), { code: Status.INVALID_ARGUMENT }, `reserved user ${name}`);
    await t.rejects(call(a, 'deleteUser', { name, host: 'localhost' }), { code: Status.INVALID_ARGUMENT }, `cannot delete ${name}`);
  }
  for (const name of ['mysql', 'information_schema', 'performance_schema', 'sys']) {
    await t.rejects(call(a, 'createDatabases', { databases: [db(name)] }), { code: Status.INVALID_ARGUMENT }, `reserved database ${name}`);
  }
  t.equal(await snapshot(), before, 'no database or account changed');
  t.equal((await mariadb(agent.datastorePort, 'keeper', "it's-\"quoted\"\\", 'SHOW DATABASES')).stdout.includes('keep'), true, 'the victim still has its access');
});

t.test('account calls on an instance that is not running get FAILED_PRECONDITION', async (t) => {
  const agent = await startAgent(t);
  await t.rejects(call(agent.clients.accounts, 'listDatabases', {}), { code: Status.FAILED_PRECONDITION });
});
