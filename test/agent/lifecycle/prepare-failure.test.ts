// A Prepare that fails or is abandoned: never a hang, never a datastore
// left running unnoticed, and the reason visible in GetStatus.
import t from 'tap';
import { createServer } from 'node:net';
import { startAgent, call, collect, alive, datastorePid, waitFor } from '../../support/agent.js';
import { freePort } from '../../support/ports.js';
import { mariadb } from '../../support/mariadb-client.js';
import { DatastoreState, type GetStatusResponse, type PrepareResponse } from '../../../proto/gen/coffer/agent/v1/lifecycle.js';

const PREPARE = {
  datastoreVersion: '',
  rootPassword: '',
  databases: [{ name: 'app', characterSet: '', collation: '' }],
  users: [{ name: 'app', host: '%', password: 'App-pass-1', databases: ['app'], rules: [] }],
  overrides: {},
  restore: undefined, replicaOf: undefined,
};

t.test('the datastore cannot start (its port is taken): FAILED with the server\'s own reason', async (t) => {
  const port = await freePort();
  const squatter = createServer().listen(port, '127.0.0.1');
  t.teardown(() => squatter.close());
  const agent = await startAgent(t, { datastorePort: port });
  const err = await collect(agent.clients.lifecycle.prepare(PREPARE)).catch((e: Error) => e);
  t.ok(err instanceof Error, 'Prepare reports the failure');
  const s = await call<object, GetStatusResponse>(agent.clients.lifecycle, 'getStatus', {});
  t.equal(s.state, DatastoreState.DATASTORE_STATE_FAILED);
  t.match(s.reason, /Prepare failed/);
  t.match(s.reason, /(Bind on TCP\/IP port|Address already in use|[Cc]an't start server)/, 'the reason is the server\'s own message');
  t.equal(datastorePid(agent.baseDir), 0, 'nothing is left running');

  // Once the port is free, Prepare can be run again and succeeds.
  await new Promise((r) => squatter.close(r));
  const events = await collect<PrepareResponse>(agent.clients.lifecycle.prepare(PREPARE));
  t.equal(events.at(-1)?.result?.state, DatastoreState.DATASTORE_STATE_ACTIVE, 'a retried Prepare succeeds');
  t.equal((await mariadb(port, 'app', 'App-pass-1', 'SHOW DATABASES')).stdout.includes('app'), true);
});

t.test('the client goes away mid-Prepare: the datastore is stopped and the state says why', async (t) => {
  const agent = await startAgent(t);
  const stream = agent.clients.lifecycle.prepare(PREPARE);
  // Wait until the datastore has been started, then disconnect.
  await new Promise<void>((resolve) => {
    stream.on('data', (e: PrepareResponse) => {
      if (e.progress?.phase === 'secure' || e.progress?.phase === 'start') resolve();
    });
  });
  stream.cancel();
  stream.on('error', () => undefined);
  const s = await waitFor('FAILED after the cancel', async () => {
    const st = await call<object, GetStatusResponse>(agent.clients.lifecycle, 'getStatus', {});
    if (process.env.DEBUG_PREP) console.error(JSON.stringify(st));
    return (st.state === DatastoreState.DATASTORE_STATE_FAILED || st.state === DatastoreState.DATASTORE_STATE_ACTIVE) && st.operations.length === 0 && st;
  });
  if (s.state === DatastoreState.DATASTORE_STATE_ACTIVE) {
    // The cancel arrived after the last step: a complete, reported instance.
    t.pass('Prepare had finished before the cancel arrived');
  } else {
    t.match(s.reason, /cancel|went away/i, 'the reason says the client went away');
    const pid = datastorePid(agent.baseDir);
    t.ok(pid === 0 || !alive(pid), 'no half-started mariadbd keeps running');
    const events = await collect<PrepareResponse>(agent.clients.lifecycle.prepare(PREPARE));
    t.equal(events.at(-1)?.result?.state, DatastoreState.DATASTORE_STATE_ACTIVE, 'Prepare can be run again');
  }
});

t.test('SIGTERM during Prepare: the agent exits 0 and leaves no datastore; the next agent reports FAILED', async (t) => {
  const agent = await startAgent(t);
  const stream = agent.clients.lifecycle.prepare(PREPARE);
  stream.on('error', () => undefined);
  await new Promise<void>((resolve) => stream.on('data', (e: PrepareResponse) => e.progress?.phase === 'init-datadir' && resolve()));
  const code = await agent.stop('SIGTERM');
  t.equal(code, 0, 'exit 0');
  t.equal(datastorePid(agent.baseDir), 0, 'no datastore left');
  const next = await startAgent(t, { baseDir: agent.baseDir, datastorePort: agent.datastorePort });
  const s = await call<object, GetStatusResponse>(next.clients.lifecycle, 'getStatus', {});
  t.equal(s.state, DatastoreState.DATASTORE_STATE_FAILED, 'FAILED, not BUILDING forever');
  t.match(s.reason, /Prepare/);
});
