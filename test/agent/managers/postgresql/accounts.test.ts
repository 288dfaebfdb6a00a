// Every account RPC against a real postgres, as a user of the API sees it:
// through gRPC, checked with psql.
import t from 'tap';
import { status as Status } from '@grpc/grpc-js';
import { startAgent, call, collect, type AgentProcess } from '../../../support/agent.js';
import { psql, psqlAdmin, SHOP_PREPARE } from '../../../support/psql.js';
import type { PrepareResponse } from '../../../../proto/gen/coffer/agent/v1/lifecycle.js';

const PREPARE = SHOP_PREPARE;

const acc = <Res = Record<string, unknown>>(a: AgentProcess, method: string, req: object) => call<object, Res>(a.clients.accounts, method, req);
const page = (marker = '', limit = 0, includeMarker = false) => ({ page: { marker, limit, includeMarker } });
const u = (name: string, password: string, databases: string[] = []) => ({ name, host: '', password, databases, rules: [] });
const db = (name: string, characterSet = '', collation = '') => ({ name, characterSet, collation });

t.test('accounts', async (t) => {
  const agent = await startAgent(t, { datastore: 'postgresql' });
  await collect<PrepareResponse>(agent.clients.lifecycle.prepare(PREPARE));
  const admin = (sql: string, database?: string) => psqlAdmin(agent.baseDir, agent.datastorePort, sql, database);

  await t.test('databases: create with encoding and collation, list with pagination, delete', async (t) => {
    await acc(agent, 'createDatabases', { databases: [db('a1', 'UTF8', 'C.UTF-8'), db('a2', 'LATIN1', 'C'), db('a3'), db('a-4$x')] });
    const info = await admin("SELECT string_agg(datname || ':' || pg_encoding_to_char(encoding) || ':' || datcollate, ' ' ORDER BY datname) FROM pg_database WHERE datname LIKE 'a%'");
    t.equal(info.stdout, 'a-4$x:UTF8:C.UTF-8 a1:UTF8:C.UTF-8 a2:LATIN1:C a3:UTF8:C.UTF-8', 'created with the asked encoding and collation');
    const all = await acc<{ databases: Array<{ name: string }>; nextMarker: string }>(agent, 'listDatabases', page());
    t.same(all.databases.map((d) => d.name), ['a-4$x', 'a1', 'a2', 'a3', 'shop'], 'server databases are not listed');
    t.equal(all.nextMarker, '');
    const p1 = await acc<{ databases: Array<{ name: string }>; nextMarker: string }>(agent, 'listDatabases', page('', 2));
    t.same(p1.databases.map((d) => d.name), ['a-4$x', 'a1']);
    t.equal(p1.nextMarker, 'a1');
    const p2 = await acc<{ databases: Array<{ name: string }>; nextMarker: string }>(agent, 'listDatabases', page(p1.nextMarker, 2));
    t.same(p2.databases.map((d) => d.name), ['a2', 'a3']);
    const p3 = await acc<{ databases: Array<{ name: string }>; nextMarker: string }>(agent, 'listDatabases', page(p2.nextMarker, 2));
    t.same(p3.databases.map((d) => d.name), ['shop']);
    t.equal(p3.nextMarker, '', 'the last page has no marker');
    const inc = await acc<{ databases: Array<{ name: string }> }>(agent, 'listDatabases', page('a2', 1, true));
    t.same(inc.databases.map((d) => d.name), ['a2'], 'includeMarker includes the marker');

    await t.rejects(acc(agent, 'createDatabases', { databases: [db('a1')] }), { code: Status.ALREADY_EXISTS });
    await t.rejects(acc(agent, 'createDatabases', { databases: [db('b1'), db('b1')] }), { code: Status.INVALID_ARGUMENT }, 'named twice');
    await t.rejects(acc(agent, 'createDatabases', { databases: [db('b2', 'NO_SUCH_ENCODING')] }), { code: Status.INVALID_ARGUMENT }, 'unknown encoding');
    await t.rejects(acc(agent, 'createDatabases', { databases: [db('b3'), db('b4', 'LATIN1', 'C.UTF-8')] }), { code: Status.INVALID_ARGUMENT }, 'encoding and locale that do not match');
    const none = await admin("SELECT count(*) FROM pg_database WHERE datname LIKE 'b%'");
    t.equal(none.stdout, '0', 'a failed batch leaves nothing behind');

    await acc(agent, 'deleteDatabase', { name: 'a3' });
    t.equal((await admin("SELECT count(*) FROM pg_database WHERE datname = 'a3'")).stdout, '0', 'deleted');
    await t.rejects(acc(agent, 'deleteDatabase', { name: 'a3' }), { code: Status.NOT_FOUND });
    await t.rejects(acc(agent, 'deleteDatabase', { name: 'postgres' }), { code: Status.INVALID_ARGUMENT }, 'a server database cannot be deleted');
  });

  await t.test('users: create, list, get, change password, rename, delete', async (t) => {
    await acc(agent, 'createUsers', { users: [u('bob', 'B0b-pass', ['a1']), u('carol', 'Car0l-pass')] });
    const bob = await psql(agent.datastorePort, 'bob', 'B0b-pass', 'SELECT current_user', 'a1');
    t.equal(bob.stdout, 'bob', 'bob logs in to his database');
    const list = await acc<{ users: Array<{ name: string; databases: string[] }>; nextMarker: string }>(agent, 'listUsers', page());
    t.same(list.users.map((x) => [x.name, x.databases]), [['alice', ['shop']], ['bob', ['a1']], ['carol', []]], 'users with their databases; no reserved roles');
    const p1 = await acc<{ users: Array<{ name: string }>; nextMarker: string }>(agent, 'listUsers', page('', 2));
    t.same(p1.users.map((x) => x.name), ['alice', 'bob']);
    const p2 = await acc<{ users: Array<{ name: string }>; nextMarker: string }>(agent, 'listUsers', page(p1.nextMarker, 2));
    t.same(p2.users.map((x) => x.name), ['carol']);
    t.equal(p2.nextMarker, '');
    const got = await acc<{ user: { name: string; databases: string[]; password: string } }>(agent, 'getUser', { name: 'bob', host: '' });
    t.same([got.user.name, got.user.databases, got.user.password], ['bob', ['a1'], ''], 'get returns the user, never a password');
    await t.rejects(acc(agent, 'getUser', { name: 'nobody', host: '' }), { code: Status.NOT_FOUND });
    await t.rejects(acc(agent, 'createUsers', { users: [u('bob', 'x-pass-1')] }), { code: Status.ALREADY_EXISTS });
    await t.rejects(acc(agent, 'createUsers', { users: [u('dave', 'x-pass-1', ['nope'])] }), { code: Status.NOT_FOUND });
    t.equal((await admin("SELECT count(*) FROM pg_roles WHERE rolname = 'dave'")).stdout, '0', 'nothing of a refused batch remains');

    await acc(agent, 'changePasswords', { users: [u('bob', 'B0b-new-pass')] });
    t.not((await psql(agent.datastorePort, 'bob', 'B0b-pass', 'SELECT 1', 'a1')).code, 0, 'the old password no longer works');
    t.equal((await psql(agent.datastorePort, 'bob', 'B0b-new-pass', 'SELECT 1', 'a1')).code, 0, 'the new one does');

    await acc(agent, 'updateUserAttributes', { name: 'bob', host: '', newName: 'robert', newHost: '', newPassword: '' });
    const renamed = await psql(agent.datastorePort, 'robert', 'B0b-new-pass', 'SELECT current_user', 'a1');
    t.equal(renamed.stdout, 'robert', 'renamed; the password survives the rename; grants follow');
    await acc(agent, 'updateUserAttributes', { name: 'robert', host: '%', newName: '', newHost: '', newPassword: 'R0bert-pass' });
    t.equal((await psql(agent.datastorePort, 'robert', 'R0bert-pass', 'SELECT 1', 'a1')).code, 0, 'password changed through update');
    await t.rejects(acc(agent, 'updateUserAttributes', { name: 'robert', host: '', newName: 'alice', newHost: '', newPassword: '' }), { code: Status.ALREADY_EXISTS });
    await t.rejects(acc(agent, 'updateUserAttributes', { name: 'robert', host: '', newName: 'postgres', newHost: '', newPassword: '' }), { code: Status.INVALID_ARGUMENT });
    await t.rejects(acc(agent, 'updateUserAttributes', { name: 'robert', host: '', newName: '', newHost: '10.0.0.1', newPassword: '' }), { code: Status.INVALID_ARGUMENT }, 'no host part');
    await t.rejects(acc(agent, 'updateUserAttributes', { name: 'robert', host: '', newName: '', newHost: '', newPassword: '' }), { code: Status.INVALID_ARGUMENT }, 'nothing to change');

    // A user who owns a table: deleting keeps the table (owned by the agent role).
    await psql(agent.datastorePort, 'robert', 'R0bert-pass', 'CREATE TABLE robs (id int)', 'a1');
    await acc(agent, 'deleteUser', { name: 'robert', host: '' });
    t.equal((await admin("SELECT count(*) FROM pg_roles WHERE rolname = 'robert'")).stdout, '0', 'deleted');
    t.equal((await admin("SELECT tableowner FROM pg_tables WHERE tablename = 'robs'", 'a1')).stdout, 'coffer_admin', 'its data stays');
    await t.rejects(acc(agent, 'deleteUser', { name: 'robert', host: '' }), { code: Status.NOT_FOUND });
    await t.rejects(acc(agent, 'deleteUser', { name: 'coffer_admin', host: '' }), { code: Status.INVALID_ARGUMENT }, 'the agent role cannot be deleted');
  });

  await t.test('access: grant, list, revoke', async (t) => {
    await acc(agent, 'grantAccess', { name: 'carol', host: '', databases: ['a1', 'a2'] });
    const list = await acc<{ databases: Array<{ name: string }> }>(agent, 'listAccess', { name: 'carol', host: '' });
    t.same(list.databases.map((d) => d.name), ['a1', 'a2']);
    const made = await psql(agent.datastorePort, 'carol', 'Car0l-pass', 'CREATE TABLE c (id int); SELECT count(*) FROM c', 'a2');
    t.equal(made.stdout, '0', 'a granted user can create tables');
    t.not((await psql(agent.datastorePort, 'carol', 'Car0l-pass', 'SELECT 1', 'shop')).code, 0, 'but cannot connect to an ungranted database');
    await acc(agent, 'revokeAccess', { name: 'carol', host: '', database: 'a1' });
    const after = await acc<{ databases: Array<{ name: string }> }>(agent, 'listAccess', { name: 'carol', host: '' });
    t.same(after.databases.map((d) => d.name), ['a2']);
    t.not((await psql(agent.datastorePort, 'carol', 'Car0l-pass', 'SELECT 1', 'a1')).code, 0, 'revoked: no more CONNECT');
    await t.rejects(acc(agent, 'revokeAccess', { name: 'carol', host: '', database: 'a1' }), { code: Status.NOT_FOUND }, 'nothing to revoke');
    await t.rejects(acc(agent, 'grantAccess', { name: 'carol', host: '', databases: ['nope'] }), { code: Status.NOT_FOUND });
    await t.rejects(acc(agent, 'grantAccess', { name: 'carol', host: '', databases: ['template1'] }), { code: Status.INVALID_ARGUMENT });
    await t.rejects(acc(agent, 'grantAccess', { name: 'nobody', host: '', databases: ['a1'] }), { code: Status.NOT_FOUND });
  });

  await t.test('root: enable with a generated password, is-enabled, disable', async (t) => {
    t.same(await acc(agent, 'isRootEnabled', {}), { enabled: false });
    const r = await acc<{ user: { name: string }; password: string }>(agent, 'enableRoot', { password: '' });
    t.equal(r.user.name, 'root');
    t.ok(r.password.length >= 20, 'a generated password is returned');
    const su = await psql(agent.datastorePort, 'root', r.password, 'SELECT rolsuper FROM pg_roles WHERE rolname = current_user');
    t.equal(su.stdout, 't', 'root is a superuser and logs in over TCP');
    t.same(await acc(agent, 'isRootEnabled', {}), { enabled: true });
    const again = await acc<{ password: string }>(agent, 'enableRoot', { password: 'Chosen-r00t' });
    t.equal(again.password, 'Chosen-r00t');
    t.not((await psql(agent.datastorePort, 'root', r.password, 'SELECT 1')).code, 0, 'enabling again replaces the password');
    t.equal((await psql(agent.datastorePort, 'root', 'Chosen-r00t', 'SELECT 1')).code, 0);
    const users = await acc<{ users: Array<{ name: string }> }>(agent, 'listUsers', page());
    t.notOk(users.users.some((x) => x.name === 'root'), 'root is not listed among users');
    await acc(agent, 'disableRoot', {});
    t.same(await acc(agent, 'isRootEnabled', {}), { enabled: false });
    t.not((await psql(agent.datastorePort, 'root', 'Chosen-r00t', 'SELECT 1')).code, 0, 'root can no longer log in');
    await t.rejects(acc(agent, 'enableRoot', { password: 'bad\npassword' }), { code: Status.INVALID_ARGUMENT });
  });

  await t.test('hostile names get INVALID_ARGUMENT and nothing runs', async (t) => {
    const before = await admin("SELECT (SELECT count(*) FROM pg_database) || '/' || (SELECT count(*) FROM pg_roles)");
    const hostile = ["x'; DROP DATABASE postgres; --", 'a"b', 'a\nb', 'x'.repeat(64), "'; DROP ROLE coffer_admin; --", ''];
    for (const name of hostile) {
      const label = JSON.stringify(name.slice(0, 30));
      await t.rejects(acc(agent, 'createDatabases', { databases: [db(name)] }), { code: Status.INVALID_ARGUMENT }, `create database ${label}`);
      await t.rejects(acc(agent, 'deleteDatabase', { name }), { code: Status.INVALID_ARGUMENT }, `delete database ${label}`);
      await t.rejects(acc(agent, 'createUsers', { users: [u(name, 'pw-12345')] }), { code: Status.INVALID_ARGUMENT }, `create user ${label}`);
      await t.rejects(acc(agent, 'getUser', { name, host: '' }), { code: Status.INVALID_ARGUMENT }, `get user ${label}`);
      await t.rejects(acc(agent, 'deleteUser', { name, host: '' }), { code: Status.INVALID_ARGUMENT }, `delete user ${label}`);
      await t.rejects(acc(agent, 'grantAccess', { name: 'alice', host: '', databases: [name] }), { code: Status.INVALID_ARGUMENT }, `grant ${label}`);
      await t.rejects(acc(agent, 'updateUserAttributes', { name: 'alice', host: '', newName: name, newHost: '', newPassword: '' }), { code: Status.INVALID_ARGUMENT }, `rename to ${label}`);
    }
    for (const name of ['pg_signal_backend', 'PUBLIC', 'Postgres', 'CURRENT_USER']) {
      await t.rejects(acc(agent, 'createUsers', { users: [u(name, 'pw-12345')] }), { code: Status.INVALID_ARGUMENT }, `reserved role ${name}`);
    }
    await t.rejects(acc(agent, 'createDatabases', { databases: [db('ok1', "UTF8'; DROP DATABASE shop; --")] }), { code: Status.INVALID_ARGUMENT }, 'hostile encoding');
    await t.rejects(acc(agent, 'createDatabases', { databases: [db('ok1', '', "C'; DROP DATABASE shop; --")] }), { code: Status.INVALID_ARGUMENT }, 'hostile collation');
    await t.rejects(acc(agent, 'changePasswords', { users: [u('alice', "x'\n; ALTER ROLE alice SUPERUSER; --")] }), { code: Status.INVALID_ARGUMENT }, 'hostile password');
    const after = await admin("SELECT (SELECT count(*) FROM pg_database) || '/' || (SELECT count(*) FROM pg_roles)");
    t.equal(after.stdout, before.stdout, 'no database or role appeared or vanished');
    t.equal((await psql(agent.datastorePort, 'alice', 'Al1ce-pass', 'SELECT 1', 'shop')).code, 0, 'alice is untouched');
  });
});
