// The configuration capability against a real redis-server: hostile
// overrides refused by Prepare and UpdateOverrides (control characters that
// trim() used to remove included), and a change that cannot be saved
// (redis.conf or the overrides store) is taken back from the running server.
import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { status as Status } from '@grpc/grpc-js';
import { startAgent, call, collect } from '../../../support/agent.js';
import { connectAs } from '../../../support/redis-cli.js';
import { DatastoreState } from '../../../../proto/gen/coffer/agent/v1/lifecycle.js';
import { PREPARE, status } from '../redis/fixtures/instance.js';
import { blockWrites, hostileOverrides, refusedNaming } from './fixtures/hostile.js';

const ROOT = { ...PREPARE, rootPassword: 'R00t-pass' };

t.test('redis', async (t) => {
  const agent = await startAgent(t, { datastore: 'redis' });
  const conf = path.join(agent.baseDir, 'etc', 'redis.conf');
  const live = async (name: string) => ((await (await connectAs(t, agent.datastorePort, '', 'R00t-pass')).call('CONFIG', 'GET', name)) as string[])[1];
  const update = (overrides: Record<string, string>) => call(agent.clients.configuration, 'updateOverrides', { overrides, replace: false });

  await t.test('Prepare refuses hostile overrides before it writes anything', async (t) => {
    for (const [name, overrides] of hostileOverrides('hz', '10')) {
      await refusedNaming(t, collect(agent.clients.lifecycle.prepare({ ...ROOT, overrides })), name, `Prepare ${JSON.stringify(overrides)}`);
      t.equal((await status(agent)).state, DatastoreState.DATASTORE_STATE_NEW, 'still NEW');
    }
    await collect(agent.clients.lifecycle.prepare(ROOT));
    t.equal((await status(agent)).state, DatastoreState.DATASTORE_STATE_ACTIVE, 'a clean Prepare then works');
  });

  await t.test('UpdateOverrides refuses them, redis.conf is unchanged, and the server restarts', async (t) => {
    const before = readFileSync(conf, 'utf8');
    for (const [name, overrides] of hostileOverrides('hz', '10')) {
      await refusedNaming(t, update(overrides), name, JSON.stringify(overrides));
    }
    t.equal(readFileSync(conf, 'utf8'), before, 'redis.conf unchanged');
    await call(agent.clients.lifecycle, 'restart', {});
    t.equal((await status(agent)).state, DatastoreState.DATASTORE_STATE_ACTIVE, 'redis-server starts again');
  });

  await t.test('a change that cannot be saved is taken back from the running server', async (t) => {
    const before = readFileSync(conf, 'utf8');
    for (const [what, file] of [['redis.conf', conf], ['the overrides store', path.join(agent.baseDir, 'agent', 'overrides.json')]] as const) {
      const unblock = blockWrites(file);
      await t.rejects(update({ maxmemory: '32M' }), { code: Status.INTERNAL }, `${what} cannot be written: the update fails`);
      unblock();
      t.equal(await live('maxmemory'), '0', `${what}: the running server still has the old value`);
      t.equal(readFileSync(conf, 'utf8'), before, `${what}: redis.conf as it was`);
    }
    await update({ maxmemory: '16M' });
    t.equal(await live('maxmemory'), String(16 * 1024 * 1024), 'the next change works');
  });
});
