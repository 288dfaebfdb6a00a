// The agent owns postgres: a postmaster killed with SIGKILL is restarted by
// the supervisor, and Stop/Start work.
import t from 'tap';
import { startAgent, call, collect, waitFor, datastorePid, alive, type AgentProcess } from '../../../support/agent.js';
import { psql, SHOP_PREPARE } from '../../../support/psql.js';
import { DatastoreState, type GetStatusResponse } from '../../../../proto/gen/coffer/agent/v1/lifecycle.js';

const status = (a: AgentProcess) => call<object, GetStatusResponse>(a.clients.lifecycle, 'getStatus', {});

t.test('kill -9 of postgres: the agent restarts it', async (t) => {
  const agent = await startAgent(t, { datastore: 'postgresql' });
  await collect(agent.clients.lifecycle.prepare(SHOP_PREPARE));
  await psql(agent.datastorePort, 'alice', 'Al1ce-pass', 'CREATE TABLE t AS SELECT generate_series(1, 100) AS id', 'shop');
  const pid = datastorePid(agent.baseDir);
  t.ok(pid > 0 && alive(pid), 'postgres runs');
  process.kill(pid, 'SIGKILL');
  await waitFor('postgres to die', async () => !alive(pid));
  const s = await waitFor('the agent to restart postgres', async () => {
    const s = await status(agent);
    return s.restartCount >= 1 && s.state === DatastoreState.DATASTORE_STATE_ACTIVE ? s : undefined;
  }, 90_000);
  t.ok(s.restartCount >= 1, `restartCount ${s.restartCount}`);
  const newPid = datastorePid(agent.baseDir);
  t.not(newPid, pid, 'a new postmaster');
  const rows = await psql(agent.datastorePort, 'alice', 'Al1ce-pass', 'SELECT count(*) FROM t', 'shop');
  t.equal(rows.stdout, '100', 'data survived the crash (crash recovery)');
  const accounts = await call<object, { databases: Array<{ name: string }> }>(agent.clients.accounts, 'listDatabases', { page: { marker: '', limit: 0, includeMarker: false } });
  t.same(accounts.databases.map((d) => d.name), ['shop'], 'the agent talks to the restarted server');

  // Stop and Start on request.
  t.equal((await call<object, { state: number }>(agent.clients.lifecycle, 'stop', {})).state, DatastoreState.DATASTORE_STATE_SHUTDOWN);
  t.notOk(alive(newPid), 'stopped');
  t.not((await psql(agent.datastorePort, 'alice', 'Al1ce-pass', 'SELECT 1', 'shop')).code, 0, 'no server while stopped');
  t.equal((await call<object, { state: number }>(agent.clients.lifecycle, 'start', {})).state, DatastoreState.DATASTORE_STATE_ACTIVE);
  t.equal((await psql(agent.datastorePort, 'alice', 'Al1ce-pass', 'SELECT count(*) FROM t', 'shop')).stdout, '100');
});

t.test('Stop with a client connected: a fast shutdown, not a wait for the client to leave', async (t) => {
  const agent = await startAgent(t, { datastore: 'postgresql' });
  await collect(agent.clients.lifecycle.prepare(SHOP_PREPARE));
  // A client that stays connected, idle in a transaction, until the server goes.
  const client = psql(agent.datastorePort, 'alice', 'Al1ce-pass', 'BEGIN; SELECT pg_sleep(600);', 'shop');
  await waitFor('the client to be connected', async () => {
    const r = await psql(agent.datastorePort, 'alice', 'Al1ce-pass', "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(600)%' AND pid <> pg_backend_pid()", 'shop');
    return r.stdout === '1';
  });
  const pid = datastorePid(agent.baseDir);
  t.equal((await call<object, { state: number }>(agent.clients.lifecycle, 'stop', {})).state, DatastoreState.DATASTORE_STATE_SHUTDOWN);
  t.notOk(alive(pid), 'the postmaster is gone');
  const logs = agent.logs.join('\n');
  t.match(logs, /received fast shutdown request/, 'the postmaster was asked for a fast shutdown (SIGINT)');
  t.match(logs, /database system is shut down/, 'and completed it cleanly');
  t.not((await client).code, 0, "the client's session was ended by the shutdown");
  t.equal((await call<object, { state: number }>(agent.clients.lifecycle, 'start', {})).state, DatastoreState.DATASTORE_STATE_ACTIVE);
  t.notMatch(agent.logs.join('\n'), /was not properly shut down/, 'the next start needed no crash recovery');
});
