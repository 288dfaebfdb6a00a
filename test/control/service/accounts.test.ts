// Users of a Redis replication set, through the real control and agents:
// Redis does not replicate ACL changes, so the control relays a user change
// made on one member to every member. A user created on the source after
// the replica was built logs in on the replica; one deleted on the replica
// is gone from the source; after a switchover the users are the same; a
// member whose agent was killed is named in the answer.
import t from 'tap';
import type { PromoteToReplicaSourceResponse } from '../../../proto/gen/coffer/control/v1/instances.js';
import { ccall, startControl } from '../../support/control.js';
import { datastoreTrust } from '../../support/datastore-trust.js';
import { redisCli } from '../../support/redis-cli.js';
import { waitFor } from '../../support/agent.js';
import { createReplicas, createSource, DATASTORE_USERS, isActive, killInstance, waitInstance } from '../../support/replication.js';
import { status as Status } from '@grpc/grpc-js';

t.setTimeout(10 * 60_000);

// The control's Redis instances serve TLS only, verified with the deployments' CA.
const logsIn = async (port: number, user: string, password: string): Promise<boolean> => {
  const r = await redisCli(port, user, password, ['PING'], datastoreTrust());
  return r.code === 0 && r.stdout.trim() === 'PONG';
};

t.test('redis: a user change on one member reaches every member of the set', async (t) => {
  const h = await startControl(t);
  const token = h.token('p1');
  const source = await createSource(h, token, DATASTORE_USERS.redis!, 'src-users');
  const created = await createReplicas(h, token, source.id, 'rep-users', 1);
  const replica = await waitInstance(h, token, created.replicas[0]!.id, 'the replica ACTIVE', isActive);

  const bob = { name: 'bob', host: '', password: 'Bob-pass-1', databases: [], rules: ['~*', '+@all'] };
  await ccall(h.clients.accounts, 'createUsers', { instanceId: source.id, users: [bob] }, token);
  t.ok(await logsIn(source.port, 'bob', 'Bob-pass-1'), 'bob logs in on the source');
  t.ok(await logsIn(replica.port, 'bob', 'Bob-pass-1'), 'and on the replica built before he was created');

  const carol = { ...bob, name: 'carol', password: 'Carol-pass-2' };
  await ccall(h.clients.accounts, 'createUsers', { instanceId: replica.id, users: [carol] }, token);
  t.ok(await logsIn(source.port, 'carol', 'Carol-pass-2'), 'a user created through the replica is on the source too');
  await ccall(h.clients.accounts, 'deleteUser', { instanceId: replica.id, name: 'bob', host: '' }, token);
  t.notOk(await logsIn(source.port, 'bob', 'Bob-pass-1'), 'a user deleted through the replica is gone from the source');

  // After a switchover the new source has the same users.
  await ccall<PromoteToReplicaSourceResponse>(h.clients.instances, 'promoteToReplicaSource', { id: replica.id }, token);
  const promoted = await waitInstance(h, token, replica.id, 'the replica promoted', (i) => isActive(i) && !i.replicaOf);
  await waitInstance(h, token, source.id, 'the old source ACTIVE', isActive);
  await waitFor('carol writes on the new source', async () => (await redisCli(promoted.port, 'carol', 'Carol-pass-2', ['SET', 'k', '1'], { ca: h.datastoreCa })).stdout.trim() === 'OK');
  t.pass('the new source takes the users\' writes');
  const dave = { ...bob, name: 'dave', password: 'Dave-pass-3' };
  await ccall(h.clients.accounts, 'createUsers', { instanceId: promoted.id, users: [dave] }, token);
  t.ok(await logsIn(source.port, 'dave', 'Dave-pass-3'), 'a user created on the new source reaches the old one, now its replica');

  // A member whose agent is gone: the change is made where it can be, and
  // the answer names the member that did not get it.
  killInstance(h, source.id);
  const erin = { ...bob, name: 'erin', password: 'Erin-pass-4' };
  await t.rejects(
    ccall(h.clients.accounts, 'createUsers', { instanceId: promoted.id, users: [erin] }, token),
    { code: Status.FAILED_PRECONDITION, details: new RegExp(`not on these members.*${source.id}`) },
    'a 409 naming the member that missed the change',
  );
  t.ok(await logsIn(promoted.port, 'erin', 'Erin-pass-4'), 'the reachable member has the user');
});
