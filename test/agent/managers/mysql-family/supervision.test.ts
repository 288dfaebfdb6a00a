// The agent owns mariadbd: restarts it when it dies, stops it on SIGTERM,
// and clears a datastore left behind by an agent killed with SIGKILL.
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { status as Status } from '@grpc/grpc-js';
import { startAgent, call, collect, alive, datastorePid, waitFor, tempBase } from '../../../support/agent.js';
import { mariadb } from '../../../support/mariadb-client.js';
import { DatastoreState, type GetStatusResponse } from '../../../../proto/gen/coffer/agent/v1/lifecycle.js';
import path from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';

const PREPARE = {
  datastoreVersion: '',
  rootPassword: '',
  databases: [{ name: 'keep', characterSet: '', collation: '' }],
  users: [{ name: 'u1', host: '%', password: 'U1-pass-word', databases: ['keep'], rules: [] }],
  overrides: {},
  restore: undefined, replicaOf: undefined,
};

t.test('kill -9 of mariadbd: the agent restarts it and the state shows it; with its own secret altered (a fault injected) it is not ACTIVE until it gets in', async (t) => {
  const agent = await startAgent(t);
  await collect(agent.clients.lifecycle.prepare(PREPARE));
  const status = () => call<object, GetStatusResponse>(agent.clients.lifecycle, 'getStatus', {});
  const pid = datastorePid(agent.baseDir);
  t.ok(alive(pid), 'mariadbd runs');
  process.kill(pid, 'SIGKILL');
  const crashed = await waitFor('CRASHED', async () => {
    const s = await status();
    return s.state === DatastoreState.DATASTORE_STATE_CRASHED && s;
  }, 10_000);
  t.match(crashed.reason, /SIGKILL/, 'the reason names the signal');
  const back = await waitFor('ACTIVE again', async () => {
    const s = await status();
    return s.state === DatastoreState.DATASTORE_STATE_ACTIVE && s;
  });
  t.equal(back.restartCount, 1, 'one restart counted');
  t.not(datastorePid(agent.baseDir), pid, 'a new process');
  t.equal((await mariadb(agent.datastorePort, 'u1', 'U1-pass-word', 'SHOW DATABASES')).stdout.includes('keep'), true, 'data and users survived');

  // Fault injected (a real server cannot be made to refuse the agent on
  // demand; a full state transfer bringing a donor's accounts does it for
  // real): the agent's own secret no longer logs in. After the next crash
  // the instance must not read ACTIVE while the agent cannot use it, and
  // must once it can again.
  const secretFile = path.join(agent.baseDir, 'agent', 'admin.secret');
  const secret = readFileSync(secretFile, 'utf8');
  writeFileSync(secretFile, 'not-the-agents-password\n');
  process.kill(datastorePid(agent.baseDir), 'SIGKILL');
  const refused = await waitFor('a crash reason naming the refused connection', async () => {
    const s = await status();
    return s.state === DatastoreState.DATASTORE_STATE_CRASHED && /cannot use its own connection/.test(s.reason) && s;
  });
  t.match(refused.reason, /Access denied/, 'the reason carries the server\'s refusal');
  t.equal((await mariadb(agent.datastorePort, 'u1', 'U1-pass-word', 'SELECT 1')).code, 0, 'the server itself answers');
  t.equal((await status()).state, DatastoreState.DATASTORE_STATE_CRASHED, 'still not ACTIVE while the agent is refused');
  writeFileSync(secretFile, secret);
  const again = await waitFor('ACTIVE once the agent gets in', async () => {
    const s = await status();
    return s.state === DatastoreState.DATASTORE_STATE_ACTIVE && s;
  });
  t.match(again.reason, /recovered after a crash \(restart 2\)/, 'ACTIVE, after the second restart');
});

t.test('Stop, Start and Restart', async (t) => {
  const agent = await startAgent(t);
  const lc = agent.clients.lifecycle;
  await t.rejects(call(lc, 'start', {}), { code: Status.FAILED_PRECONDITION }, 'Start before Prepare is refused');
  await collect(lc.prepare(PREPARE));
  const pid = datastorePid(agent.baseDir);
  t.same(await call(lc, 'stop', {}), { state: DatastoreState.DATASTORE_STATE_SHUTDOWN });
  t.notOk(alive(pid), 'mariadbd stopped');
  t.not((await mariadb(agent.datastorePort, 'u1', 'U1-pass-word', 'SELECT 1')).code, 0, 'nothing answers');
  await sleep(1500);
  t.equal((await call<object, GetStatusResponse>(lc, 'getStatus', {})).state, DatastoreState.DATASTORE_STATE_SHUTDOWN, 'a stopped datastore is not restarted');
  t.same(await call(lc, 'start', {}), { state: DatastoreState.DATASTORE_STATE_ACTIVE });
  t.equal((await mariadb(agent.datastorePort, 'u1', 'U1-pass-word', 'SELECT 1')).code, 0, 'answers again');
  const before = datastorePid(agent.baseDir);
  t.same(await call(lc, 'restart', {}), { state: DatastoreState.DATASTORE_STATE_ACTIVE });
  t.not(datastorePid(agent.baseDir), before, 'a new process after Restart');
});

t.test('SIGTERM: the agent stops mariadbd cleanly and exits 0', async (t) => {
  const agent = await startAgent(t);
  await collect(agent.clients.lifecycle.prepare(PREPARE));
  const pid = datastorePid(agent.baseDir);
  const code = await agent.stop('SIGTERM');
  t.equal(code, 0, 'exit code 0');
  t.notOk(alive(pid), 'no orphan mariadbd');
  t.ok(agent.logs.join('\n').includes('Shutdown complete'), 'mariadbd shut down cleanly (its own log says so)');
});

t.test('SIGKILL of the agent: the next agent clears the orphan and brings the datastore back', async (t) => {
  const baseDir = path.join(tempBase(), 'base');
  const first = await startAgent(t, { baseDir });
  await collect(first.clients.lifecycle.prepare(PREPARE));
  const orphan = datastorePid(baseDir);
  await first.stop('SIGKILL');
  t.ok(alive(orphan), 'mariadbd outlived its agent (SIGKILL cannot be handled)');
  const second = await startAgent(t, { baseDir, datastorePort: first.datastorePort });
  await waitFor('ACTIVE after boot', async () => {
    const s = await call<object, GetStatusResponse>(second.clients.lifecycle, 'getStatus', {});
    return s.state === DatastoreState.DATASTORE_STATE_ACTIVE;
  });
  t.notOk(alive(orphan), 'the orphan is gone');
  t.not(datastorePid(baseDir), orphan, 'a new mariadbd owned by the new agent');
  t.equal((await mariadb(first.datastorePort, 'u1', 'U1-pass-word', 'SHOW DATABASES')).stdout.includes('keep'), true, 'data intact');
});
