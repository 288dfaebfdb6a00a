// The tenant's users travel with a Redis backup (redis-rdb-acl), through
// real agents sharing one deployment's storage and key: an instance created
// from a backup has the keys AND the users (each logs in with its original
// password and has the same permissions), with hostile-looking names and
// patterns intact, while keeping its own admin, root and replication
// account; a replica built from a snapshot has the source's users and keeps
// them once promoted; a restore into an existing instance makes its users
// the backup's. An RDB-only backup (the old format) still restores, and
// keeps the restoring instance's users.
import t from 'tap';
import { call, collect, startAgent, type AgentProcess } from '../../../support/agent.js';
import { connectAs, refusal } from '../../../support/redis-cli.js';
import { BackupType, type BackupArtifact, type CreateBackupResponse, type RestoreResponse } from '../../../../proto/gen/coffer/agent/v1/backup.js';
import { DatastoreState } from '../../../../proto/gen/coffer/agent/v1/lifecycle.js';
import type { User } from '../../../../proto/gen/coffer/agent/v1/common.js';
import { accounts, PREPARE, status, user } from './fixtures/instance.js';
import { deployment, repl, replicaOf, ROOT_PASSWORD, rootedRedis, until, type Deployment } from './fixtures/replication.js';

/** Names and rules at the edges of what the API accepts (names that are ACL keywords, dots, dashes, 64 characters; glob and punctuation patterns). */
const USERS: User[] = [
  user('app', 'App-pass-1', ['~*', '+@all']),
  user('user', 'User pass with spaces', ['~k:*', '+get', '+set']),
  user('on', 'On-pass-2', ['%R~k:{1}[x]*?', '+@read']),
  user('nopass', 'Nopass-pass-3', ['~k:*', '&ch#1', '+@pubsub', '+get']),
  user('reset', 'Reset~#pass>4', ['-@all', '+ping', '+client|id']),
  user('_.a-b.c_', 'Dots-pass-5', ['~a>b', '~(x)', '+@string', '-set']),
  user('u'.repeat(64), 'Long-pass-6', ['~*', '+@all', '-flushall']),
];

async function createBackup(a: AgentProcess, strategy = ''): Promise<BackupArtifact> {
  const events = await collect<CreateBackupResponse>(a.clients.backup.createBackup({ backupId: '', type: BackupType.BACKUP_TYPE_FULL, strategy, parent: undefined, storage: undefined, compression: '' }));
  return events.at(-1)!.artifact!;
}

/** A new instance created from the backup, with its own root password. */
async function fromBackup(t: Parameters<typeof rootedRedis>[0], d: Deployment, artifact: BackupArtifact, rootPassword = 'Root-B-pass'): Promise<AgentProcess> {
  const b = await startAgent(t, { datastore: 'redis', extraArgs: d.args });
  await collect(b.clients.lifecycle.prepare({ ...PREPARE, rootPassword, restore: { location: artifact.location, backupId: '', rewrapped: undefined, target: undefined, archive: undefined } }));
  return b;
}

const listUsers = async (a: AgentProcess): Promise<User[]> =>
  (await accounts<{ users: User[] }>(a, 'listUsers', { page: { marker: '', limit: 1000, includeMarker: false } })).users;

/**
 * Users with their rules sorted: Redis 7.0 describes a user's commands from
 * its permission bits, and the order it prints them in can differ between
 * two users with the same permissions. (The permissions themselves are
 * checked with real commands.)
 */
const described = async (a: AgentProcess): Promise<User[]> => (await listUsers(a)).map((u) => ({ ...u, rules: [...u.rules].sort() }));

t.test('an instance created from a backup has the keys and the users of its source', async (t) => {
  const d = deployment();
  const { agent: a, root: ra } = await rootedRedis(t, d);
  await accounts(a, 'createUsers', { users: USERS });
  for (let i = 0; i < 300; i++) await ra.set(`k:${i}`, `v${i}`);
  const before = await described(a);
  t.equal(before.length, USERS.length);

  const artifact = await createBackup(a);
  t.equal(artifact.metadata!.strategy, 'redis-rdb-acl', 'the default strategy carries the users');
  t.equal(artifact.metadata!.extra.acl_users, String(USERS.length), 'the metadata counts them');

  const b = await fromBackup(t, d, artifact);
  t.equal((await status(b)).state, DatastoreState.DATASTORE_STATE_ACTIVE);
  t.same(await described(b), before, 'the same users, with the same rules as the source reports them');

  for (const u of USERS) {
    await connectAs(t, b.datastorePort, u.name, u.password);
    t.pass(`${u.name} logs in with its original password`);
  }
  const app = await connectAs(t, b.datastorePort, 'app', 'App-pass-1');
  t.equal(await app.dbsize(), 300, 'every key is there');
  t.equal(await app.get('k:7'), 'v7');
  t.match(await refusal(app.call('CONFIG', 'SET', 'maxmemory', '1')), /NOPERM/, 'the agent\'s -@admin still applies to a restored user');
  const userUser = await connectAs(t, b.datastorePort, 'user', 'User pass with spaces');
  t.equal(await userUser.get('k:1'), 'v1');
  t.match(await refusal(userUser.del('k:1')), /NOPERM/, 'a restored user has exactly its permissions: no DEL');
  const on = await connectAs(t, b.datastorePort, 'on', 'On-pass-2');
  t.equal(await on.get('k:{1}xyz'), null, 'read allowed on its pattern');
  t.match(await refusal(on.get('k:7')), /NOPERM/, 'and refused outside it');
  const dots = await connectAs(t, b.datastorePort, '_.a-b.c_', 'Dots-pass-5');
  t.match(await refusal(dots.set('a>b', '1')), /NOPERM/, 'a removed command stays removed');
  await t.rejects(connectAs(t, b.datastorePort, 'app', 'wrong-password'), /WRONGPASS/, 'a wrong password is still refused');

  // The restoring instance keeps its own accounts: its root, not the source's.
  await connectAs(t, b.datastorePort, '', 'Root-B-pass');
  await t.rejects(connectAs(t, b.datastorePort, '', ROOT_PASSWORD), /WRONGPASS/, "the source's root password does not open the copy");
  // ...and its own admin: the agent still manages its users.
  await accounts(b, 'createUsers', { users: [user('later', 'Later-pass-7', ['+ping'])] });
  await accounts(b, 'deleteUser', { name: 'app', host: '' });
  t.equal((await listUsers(b)).length, USERS.length, 'the agent changes the restored users');
});

t.test('a restore into an existing instance makes its users the backup\'s; an RDB-only backup keeps them', async (t) => {
  const d = deployment();
  const { agent: a, root: ra } = await rootedRedis(t, d);
  await accounts(a, 'createUsers', { users: [user('kept', 'Kept-pass-1', ['~*', '+@all']), user('dropped', 'Dropped-pass-2', ['+ping'])] });
  await ra.set('k', 'before');
  const withUsers = await createBackup(a);

  // After the backup: a user deleted, one added, a password changed.
  await accounts(a, 'deleteUser', { name: 'dropped', host: '' });
  await accounts(a, 'createUsers', { users: [user('added', 'Added-pass-3', ['+ping'])] });
  await accounts(a, 'changePasswords', { users: [user('kept', 'Kept-pass-NEW')] });
  await ra.set('k', 'after');

  const done = await collect<RestoreResponse>(a.clients.backup.restore({ chain: [withUsers], rewrapped: undefined }));
  t.equal(done.at(-1)!.result?.state, DatastoreState.DATASTORE_STATE_ACTIVE);
  t.same((await listUsers(a)).map((u) => u.name), ['dropped', 'kept'], 'the users are the backup\'s');
  const kept = await connectAs(t, a.datastorePort, 'kept', 'Kept-pass-1');
  t.equal(await kept.get('k'), 'before', 'with the password and data of the backup');
  await connectAs(t, a.datastorePort, 'dropped', 'Dropped-pass-2');
  await t.rejects(connectAs(t, a.datastorePort, 'added', 'Added-pass-3'), /WRONGPASS/, 'a user added after the backup is gone');
  const root = await connectAs(t, a.datastorePort, '', ROOT_PASSWORD); // root is the instance's, untouched

  // The old format: a bare RDB, restored without touching the users.
  await accounts(a, 'createUsers', { users: [user('added', 'Added-pass-3', ['~*', '+@all'])] });
  const rdbOnly = await createBackup(a, 'redis-rdb');
  t.equal(rdbOnly.metadata!.strategy, 'redis-rdb');
  t.equal(rdbOnly.metadata!.extra.acl_users, undefined, 'an RDB-only backup carries no users');
  await accounts(a, 'deleteUser', { name: 'added', host: '' });
  await root.set('k', 'later');
  await collect<RestoreResponse>(a.clients.backup.restore({ chain: [rdbOnly], rewrapped: undefined }));
  t.same((await listUsers(a)).map((u) => u.name), ['dropped', 'kept'], 'the instance kept its users');
  const kept2 = await connectAs(t, a.datastorePort, 'kept', 'Kept-pass-1');
  t.equal(await kept2.get('k'), 'before', 'the RDB-only backup\'s data is back');

  // And into a new instance: the data, and only that instance's own users.
  const c = await fromBackup(t, d, rdbOnly);
  t.same(await listUsers(c), [], 'no users came with an RDB-only backup');
  const rootC = await connectAs(t, c.datastorePort, '', 'Root-B-pass');
  t.equal(await rootC.get('k'), 'before');
});

t.test('a replica has the source\'s tenant users, and keeps them once promoted', async (t) => {
  const d = deployment();
  const { agent: source, root: src } = await rootedRedis(t, d);
  await accounts(source, 'createUsers', { users: [USERS[0]!, USERS[1]!] });
  await src.set('k:1', 'one');
  const { agent: replica } = await replicaOf(t, d, source);

  t.same(await described(replica), await described(source), 'the replica lists the source\'s users');
  const onReplica = await connectAs(t, replica.datastorePort, 'app', 'App-pass-1');
  t.equal(await onReplica.get('k:1'), 'one', 'the source\'s user reads the replica');
  t.match(await refusal(onReplica.set('x', '1')), /READONLY/, 'and the replica refuses its writes');
  const seen = await connectAs(t, replica.datastorePort, 'user', 'User pass with spaces');
  await src.set('k:2', 'two');
  await until('a new write on the replica', async () => (await seen.get('k:2')) === 'two');

  // Promoted, it takes the user's writes.
  await repl(replica, 'enableAsSource');
  await until('the promoted replica writable for the source\'s user', async () => (await refusal(onReplica.set('k:3', 'three'))) === '');
  t.equal(await onReplica.get('k:3'), 'three', 'the new source takes the tenant\'s writes');
  // The agent's replication account is the instance's own (not the source's file).
  const gs = await call<object, { role: string }>(replica.clients.lifecycle, 'getStatus', {});
  t.equal(gs.role, 'source');
});
