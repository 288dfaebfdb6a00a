// The role store through a real agent: what GetReplicaSnapshot / AddReplicaAccess
// make of a standalone, what survives an agent restart, and the fence a
// source comes back with when no control confirms it.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { startAgent } from '../../support/agent.js';
import { connectAs, refusal } from '../../support/redis-cli.js';
import type { AddReplicaAccessResponse } from '../../../proto/gen/coffer/agent/v1/replication.js';
import { deployment, repl, replStatus, REPL_PASSWORD, ROOT_PASSWORD, rootedRedis, until } from '../managers/redis/fixtures/replication.js';

t.test('a source restarted with no confirmation from a control comes back refusing every write', async (t) => {
  const d = deployment();
  const { agent, root } = await rootedRedis(t, d);
  t.equal((await replStatus(agent)).role, 'standalone', 'every instance starts standalone');
  t.equal(await root.set('before', '1'), 'OK');

  const access = await repl<AddReplicaAccessResponse>(agent, 'addReplicaAccess', { replicas: [{ replicaId: randomUUID(), password: REPL_PASSWORD }] });
  t.equal(access.sources[0]!.replicationUser, 'coffer-replication');
  t.equal(access.sources[0]!.host, '', 'host is for the control to fill in');
  const s = await replStatus(agent);
  t.equal(s.role, 'source', 'given replica access, a standalone becomes a source');
  t.equal(s.fenced, false, 'a source that was never restarted is not fenced');
  t.equal(await root.set('still', '1'), 'OK', 'and takes writes');

  const file = path.join(agent.baseDir, 'agent', 'replication.json');
  t.equal(statSync(file).mode & 0o777, 0o600, 'the role file is 0600');
  const text = readFileSync(file, 'utf8');
  t.notMatch(text, REPL_PASSWORD, 'the role file holds no secret');
  t.equal(JSON.parse(text).role, 'source');

  await agent.stop();
  const again = await startAgent(t, { datastore: 'redis', baseDir: agent.baseDir, datastorePort: agent.datastorePort, extraArgs: d.args });
  const fenced = await until('the restarted source answering', async () => {
    const st = await replStatus(again);
    return st.position !== '' && st;
  });
  t.equal(fenced.role, 'source', 'the role survives the agent restart');
  t.equal(fenced.fenced, true, 'the source reports itself fenced');
  const root2 = await connectAs(t, again.datastorePort, '', ROOT_PASSWORD);
  t.match(await refusal(root2.set('after', '1')), /NOREPLICAS/, 'writes are refused from the first moment');
  t.equal(await root2.get('before'), '1', 'reads still work');
  // The fence is not the datastore's own configuration: the admin cannot write either.
  const admin = readFileSync(path.join(again.baseDir, 'agent', 'admin.secret'), 'utf8').trim();
  const adm = await connectAs(t, again.datastorePort, 'coffer_admin', admin).catch(() => null);
  if (adm) t.match(await refusal(adm.set('after', '1')), /NOREPLICAS/, 'the agent\'s own admin is refused too');
  // MakeReadOnly(false) is an explicit request, but it does not lift a fence only the control can lift.
  await repl(again, 'makeReadOnly', { readOnly: false });
  t.match(await refusal(root2.set('after', '1')), /NOREPLICAS/, 'still fenced after MakeReadOnly(false)');
});

t.test('a standalone is never fenced by a restart', async (t) => {
  const d = deployment();
  const { agent } = await rootedRedis(t, d);
  await agent.stop();
  const again = await startAgent(t, { datastore: 'redis', baseDir: agent.baseDir, datastorePort: agent.datastorePort, extraArgs: d.args });
  await until('the restarted instance answering', async () => (await replStatus(again)).position !== '');
  const root = await connectAs(t, again.datastorePort, '', ROOT_PASSWORD);
  t.equal(await root.set('x', '1'), 'OK');
  t.equal((await replStatus(again)).fenced, false);
});

t.test('replication steps wait their turn: BUSY while Prepare holds the lock; reads need no lock', async (t) => {
  const { collect } = await import('../../support/agent.js');
  const { status: Status } = await import('@grpc/grpc-js');
  const { PREPARE } = await import('../managers/redis/fixtures/instance.js');
  const agent = await startAgent(t, { datastore: 'redis' });
  const prepare = agent.clients.lifecycle.prepare({ ...PREPARE, rootPassword: ROOT_PASSWORD });
  const done = collect(prepare);
  await new Promise<void>((resolve) => prepare.once('data', () => resolve()));
  await t.rejects(
    repl(agent, 'addReplicaAccess', { replicas: [{ replicaId: randomUUID(), password: REPL_PASSWORD }] }),
    { code: Status.ABORTED, details: /Prepare is running/ },
    'a changing step is refused while Prepare runs',
  );
  t.equal((await replStatus(agent)).role, 'standalone', 'status answers meanwhile');
  await done;
  const ok = await repl<AddReplicaAccessResponse>(agent, 'addReplicaAccess', { replicas: [{ replicaId: randomUUID(), password: REPL_PASSWORD }] });
  t.equal(ok.sources.length, 1, 'and goes through once Prepare has ended');
});
