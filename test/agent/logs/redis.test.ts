// Guest logs against a real Redis (docs/logs.md): its log (the server's
// output, kept by the agent's supervisor) listed and followed across a
// restart of the server.
import t from 'tap';
import { credentials } from '@grpc/grpc-js';
import { startAgent, call, collect, waitFor } from '../../support/agent.js';
import { LogServiceClient, type ListLogsResponse, type TailLogResponse } from '../../../proto/gen/coffer/agent/v1/logs.js';
import { follow } from './tail-stream.js';

const PREPARE = { datastoreVersion: '', rootPassword: '', databases: [], users: [], overrides: {}, restore: undefined, replicaOf: undefined };

t.test('redis guest logs', async (t) => {
  const agent = await startAgent(t, { datastore: 'redis' });
  await collect(agent.clients.lifecycle.prepare(PREPARE));
  const logs = new LogServiceClient(agent.address, credentials.createInsecure());
  t.teardown(() => logs.close());

  const all = (await call<object, ListLogsResponse>(logs, 'listLogs', {})).logs;
  t.same(all.map((l) => [l.name, l.type, l.status]), [['server', 'SYS', 'Ready'], ['guest', 'SYS', 'Ready']]);
  const last = (await collect<TailLogResponse>(logs.tailLog({ name: 'server', lines: 200, follow: false }))).flatMap((m) => m.lines);
  t.ok(last.some((l) => /Ready to accept connections/.test(l)), 'the server said it is ready');

  const tail = follow(logs, 'server');
  t.teardown(() => tail.cancel());
  const before = tail.lines.length;
  await call(agent.clients.lifecycle, 'restart', {});
  await waitFor('the restarted server in the followed tail', async () => tail.lines.slice(before).some((l) => /Ready to accept connections/.test(l)));
  t.pass('a restart of the server is seen as it happens');
});
