// Every account RPC against a real redis-server, as a user of the
// instance would see the result: who can log in, and what they may run.
import t from 'tap';
import { status as Status } from '@grpc/grpc-js';
import { call } from '../../../support/agent.js';
import { connectAs, refusal } from '../../../support/redis-cli.js';
import type { GetUserResponse, ListUsersResponse, EnableRootResponse, IsRootEnabledResponse } from '../../../../proto/gen/coffer/agent/v1/accounts.js';
import { accounts, preparedRedis, user } from './fixtures/instance.js';

t.test('databases and access grants are UNIMPLEMENTED, naming the capability', async (t) => {
  const agent = await preparedRedis(t);
  const cases: Array<[string, object, RegExp]> = [
    ['listDatabases', { page: { marker: '', limit: 0, includeMarker: false } }, /databases/],
    ['createDatabases', { databases: [{ name: 'db1', characterSet: '', collation: '' }] }, /databases/],
    ['deleteDatabase', { name: 'db1' }, /databases/],
    ['grantAccess', { name: 'u', host: '', databases: ['db1'] }, /database access/],
    ['revokeAccess', { name: 'u', host: '', database: 'db1' }, /database access/],
    ['listAccess', { name: 'u', host: '' }, /database access/],
  ];
  for (const [method, req, details] of cases) {
    await t.rejects(accounts(agent, method, req), { code: Status.UNIMPLEMENTED, details }, method);
  }
});

t.test('users: create, get, list with paging, change password, rename, delete', async (t) => {
  const agent = await preparedRedis(t);
  const port = agent.datastorePort;
  await accounts(agent, 'createUsers', {
    users: [
      user('alice', 'Al1ce-pass', ['~cache:*', '%R~ro:*', '&news', '+get', '+set', '+@hash']),
      user('bob', 'B0b-pass', ['~*', '+@all']),
      user('carol', 'C4rol-pass', ['~c:*', '+@read']),
    ],
  });

  const got = await accounts<GetUserResponse>(agent, 'getUser', { name: 'alice', host: '%' });
  t.equal(got.user!.name, 'alice');
  t.equal(got.user!.password, '', 'no password is ever returned');
  for (const r of ['~cache:*', '%R~ro:*', '&news', '+@hash']) t.ok(got.user!.rules.includes(r), `getUser shows rule ${r}`);
  await t.rejects(accounts(agent, 'getUser', { name: 'nobody', host: '' }), { code: Status.NOT_FOUND });

  // Paging: the agent's and the default user are never listed.
  const p1 = await accounts<ListUsersResponse>(agent, 'listUsers', { page: { marker: '', limit: 2, includeMarker: false } });
  t.same(p1.users.map((u) => u.name), ['alice', 'bob']);
  t.equal(p1.nextMarker, 'bob');
  const p2 = await accounts<ListUsersResponse>(agent, 'listUsers', { page: { marker: p1.nextMarker, limit: 2, includeMarker: false } });
  t.same(p2.users.map((u) => u.name), ['carol']);
  t.equal(p2.nextMarker, '', 'the last page has no marker');
  const all = await accounts<ListUsersResponse>(agent, 'listUsers', {});
  t.same(all.users.map((u) => u.name), ['alice', 'bob', 'carol'], 'coffer_admin and default are not listed');

  // What each may run.
  const alice = await connectAs(t, port, 'alice', 'Al1ce-pass');
  t.equal(await alice.set('cache:1', 'x'), 'OK');
  t.equal(await alice.hset('cache:h', 'f', 'v'), 1, '+@hash allows HSET');
  t.match(await refusal(alice.get('ro:1')), /^$/, 'read-only pattern allows GET');
  t.match(await refusal(alice.set('ro:1', 'x')), /NOPERM/, 'read-only pattern refuses SET');
  t.match(await refusal(alice.call('PUBLISH', 'other', 'x')), /NOPERM/, 'channel outside &news is refused');
  const bob = await connectAs(t, port, 'bob', 'B0b-pass');
  t.equal(await bob.set('any', '1'), 'OK', '+@all reaches every key');
  t.match(await refusal(bob.call('ACL', 'SETUSER', 'bob2', 'on', 'nopass', '+@all')), /NOPERM/, '+@all never includes ACL changes');
  t.match(await refusal(bob.call('CONFIG', 'SET', 'maxmemory', '1')), /NOPERM/, '+@all never includes CONFIG SET');
  t.match(await refusal(bob.call('SHUTDOWN')), /NOPERM/, '+@all never includes SHUTDOWN');

  // Duplicates and a batch with one rule Redis refuses: nothing is created.
  await t.rejects(accounts(agent, 'createUsers', { users: [user('alice', 'x-pass-1')] }), { code: Status.ALREADY_EXISTS });
  await t.rejects(
    accounts(agent, 'createUsers', { users: [user('dave', 'D4ve-pass', ['+get']), user('erin', 'Er1n-pass', ['+nosuchcommand'])] }),
    { code: Status.INVALID_ARGUMENT },
    'an unknown command is refused by the server',
  );
  await t.rejects(accounts(agent, 'getUser', { name: 'dave', host: '' }), { code: Status.NOT_FOUND }, 'the batch was undone');

  // Passwords.
  await accounts(agent, 'changePasswords', { users: [user('carol', 'N3w-carol')] });
  t.match(await refusal(connectAs(t, port, 'carol', 'C4rol-pass')), /WRONGPASS/, 'the old password no longer works');
  await connectAs(t, port, 'carol', 'N3w-carol');
  await t.rejects(accounts(agent, 'changePasswords', { users: [user('nobody', 'x-pass-1')] }), { code: Status.NOT_FOUND });
  await t.rejects(accounts(agent, 'changePasswords', { users: [user('carol', 'a\nb')] }), { code: Status.INVALID_ARGUMENT });

  // Rename keeps password and rules; the old name is gone.
  await accounts(agent, 'updateUserAttributes', { name: 'carol', host: '', newName: 'carla', newHost: '', newPassword: '' });
  await t.rejects(accounts(agent, 'getUser', { name: 'carol', host: '' }), { code: Status.NOT_FOUND }, 'old name gone');
  const carla = await connectAs(t, port, 'carla', 'N3w-carol');
  t.match(await refusal(carla.set('c:1', 'x')), /NOPERM/, 'rules kept: +@read only');
  t.equal(await carla.get('c:1'), null, 'rules kept: GET on c:*');
  t.same((await accounts<GetUserResponse>(agent, 'getUser', { name: 'carla', host: '' })).user!.rules.slice(0, 1), ['~c:*']);
  await accounts(agent, 'updateUserAttributes', { name: 'carla', host: '', newName: '', newHost: '', newPassword: 'Fresh-pass' });
  await connectAs(t, port, 'carla', 'Fresh-pass');
  await t.rejects(accounts(agent, 'updateUserAttributes', { name: 'carla', host: '', newName: 'bob', newHost: '', newPassword: '' }), { code: Status.ALREADY_EXISTS });
  await t.rejects(accounts(agent, 'updateUserAttributes', { name: 'carla', host: '', newName: '', newHost: '10.0.0.1', newPassword: '' }), { code: Status.INVALID_ARGUMENT });
  await t.rejects(accounts(agent, 'updateUserAttributes', { name: 'carla', host: '', newName: 'default', newHost: '', newPassword: '' }), { code: Status.INVALID_ARGUMENT });

  // Delete closes the user's connections and logins.
  await accounts(agent, 'deleteUser', { name: 'bob', host: '' });
  t.match(await refusal(connectAs(t, port, 'bob', 'B0b-pass')), /WRONGPASS/, 'a deleted user cannot log in');
  t.match(await refusal(bob.get('any')), /./, 'its open connection was closed');
  await t.rejects(accounts(agent, 'deleteUser', { name: 'bob', host: '' }), { code: Status.NOT_FOUND });
  await t.rejects(accounts(agent, 'deleteUser', { name: 'coffer_admin', host: '' }), { code: Status.INVALID_ARGUMENT }, 'the agent account is not deletable');

  // Everything was persisted (ACL SAVE): it survives a restart.
  await call(agent.clients.lifecycle, 'restart', {});
  await connectAs(t, port, 'carla', 'Fresh-pass');
  await connectAs(t, port, 'alice', 'Al1ce-pass');
  t.match(await refusal(connectAs(t, port, 'bob', 'B0b-pass')), /WRONGPASS/, 'deleted stays deleted');
});

t.test('hostile names and ACL rule injection are refused before anything is sent', async (t) => {
  const agent = await preparedRedis(t);
  const before = await accounts<ListUsersResponse>(agent, 'listUsers', {});
  const names = ['', 'a b', 'x\nuser evil on nopass ~* +@all', 'default', 'coffer_admin', 'root', '-flag', 'a'.repeat(65), 'é'];
  for (const name of names) {
    await t.rejects(accounts(agent, 'createUsers', { users: [user(name, 'Pa55word')] }), { code: Status.INVALID_ARGUMENT }, `name ${JSON.stringify(name)}`);
  }
  const rules = [
    '~cache:* on', '~a >secret', '~a nopass', '~* allkeys', '~a +@all', '+get +@all', 'on', 'off', 'nopass', 'resetpass', 'reset',
    'allkeys', 'allcommands', 'allchannels', '>password', '<password', '#' + 'a'.repeat(64), '!abc', 'resetkeys', 'resetchannels',
    '~a\n+@all', '~a\r\nuser evil on nopass', '(~x +get)', 'clearselectors', '+@nosuch', '~', '&', '+', '+get|', '%X~a', '~a"b', '~a\\b',
  ];
  for (const rule of rules) {
    await t.rejects(accounts(agent, 'createUsers', { users: [user('mallory', 'Pa55word', [rule])] }), { code: Status.INVALID_ARGUMENT }, `rule ${JSON.stringify(rule)}`);
  }
  const after = await accounts<ListUsersResponse>(agent, 'listUsers', {});
  t.same(after.users, before.users, 'no user was created');
  await t.rejects(accounts(agent, 'getUser', { name: 'evil', host: '' }), { code: Status.NOT_FOUND });
  await t.rejects(accounts(agent, 'createUsers', { users: [{ ...user('h', 'Pa55word'), host: 'evil.example' }] }), { code: Status.INVALID_ARGUMENT }, 'a host');
});

t.test('root is the default user: enable (generated or given), is-enabled, disable', async (t) => {
  const agent = await preparedRedis(t);
  const port = agent.datastorePort;
  t.equal((await accounts<IsRootEnabledResponse>(agent, 'isRootEnabled', {})).enabled, false, 'off after Prepare without a root password');

  const gen = await accounts<EnableRootResponse>(agent, 'enableRoot', { password: '' });
  t.ok(gen.password.length >= 24, 'a generated password is returned');
  t.equal(gen.user!.name, 'default');
  const root = await connectAs(t, port, '', gen.password);
  t.equal(await root.call('ACL', 'WHOAMI'), 'default');
  t.equal((await accounts<IsRootEnabledResponse>(agent, 'isRootEnabled', {})).enabled, true);

  const given = await accounts<EnableRootResponse>(agent, 'enableRoot', { password: 'My-r00t-pw' });
  t.equal(given.password, 'My-r00t-pw', 'a given password is used');
  t.match(await refusal(connectAs(t, port, '', gen.password)), /WRONGPASS|invalid/i, 'the earlier password is replaced');
  const root2 = await connectAs(t, port, 'default', 'My-r00t-pw');

  await accounts(agent, 'disableRoot', {});
  t.equal((await accounts<IsRootEnabledResponse>(agent, 'isRootEnabled', {})).enabled, false);
  t.match(await refusal(connectAs(t, port, '', 'My-r00t-pw')), /WRONGPASS|disabled|invalid/i, 'root can no longer log in');
  t.match(await refusal(root2.get('x')), /./, 'open root sessions were closed');
  await t.rejects(accounts(agent, 'enableRoot', { password: 'bad\npw' }), { code: Status.INVALID_ARGUMENT });
});
