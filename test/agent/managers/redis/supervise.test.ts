// The agent keeps redis-server running: a SIGKILLed server is restarted,
// with its data (append-only file) and its accounts (ACL file).
import t from 'tap';
import { alive, datastorePid, waitFor } from '../../../support/agent.js';
import { connectAs } from '../../../support/redis-cli.js';
import { DatastoreState } from '../../../../proto/gen/coffer/agent/v1/lifecycle.js';
import { accounts, preparedRedis, status, user } from './fixtures/instance.js';

t.test('kill -9 of redis-server: restarted by the agent, data and users intact', async (t) => {
  const agent = await preparedRedis(t, { users: [user('app', 'App-pass-1', ['~*', '+@all'])] });
  const app = await connectAs(t, agent.datastorePort, 'app', 'App-pass-1');
  await app.set('survives', 'yes');
  // appendfsync everysec: give the write its second.
  await new Promise((r) => setTimeout(r, 1500));
  app.disconnect();

  const pid = datastorePid(agent.baseDir);
  t.ok(pid > 0 && alive(pid), 'redis-server runs');
  process.kill(pid, 'SIGKILL');

  const s = await waitFor('the agent to restart redis', async () => {
    const st = await status(agent);
    return st.restartCount >= 1 && st.state === DatastoreState.DATASTORE_STATE_ACTIVE ? st : undefined;
  });
  t.ok(s.restartCount >= 1, 'GetStatus counts the restart');
  const newPid = datastorePid(agent.baseDir);
  t.not(newPid, pid, 'a new process');
  t.ok(alive(newPid));

  const again = await connectAs(t, agent.datastorePort, 'app', 'App-pass-1');
  t.equal(await again.get('survives'), 'yes', 'the data survived (AOF)');
  await accounts(agent, 'createUsers', { users: [user('later', 'Later-pass', ['+ping'])] });
  t.equal(await (await connectAs(t, agent.datastorePort, 'later', 'Later-pass')).ping(), 'PONG', 'the agent manages the restarted server');
});
