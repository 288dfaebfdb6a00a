// Configuration RPCs against a real redis-server: live changes, restart-
// required ones, the rendered redis.conf as the source of truth, refusals.
import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { status as Status } from '@grpc/grpc-js';
import { call } from '../../../support/agent.js';
import { connectAs } from '../../../support/redis-cli.js';
import { DatastoreState } from '../../../../proto/gen/coffer/agent/v1/lifecycle.js';
import type { GetConfigurationResponse, ListParametersResponse, UpdateOverridesResponse } from '../../../../proto/gen/coffer/agent/v1/configuration.js';
import { configuration, preparedRedis, status } from './fixtures/instance.js';

t.test('parameters, live changes, restart-required changes, replace and reset', async (t) => {
  const agent = await preparedRedis(t, { rootPassword: 'R00t-pass', overrides: { 'maxmemory-policy': 'allkeys-lru' } });
  const conf = () => readFileSync(path.join(agent.baseDir, 'etc', 'redis.conf'), 'utf8');
  // Root's view of the running server (a fresh connection: the test restarts it).
  const live = async (name: string) => ((await (await connectAs(t, agent.datastorePort, '', 'R00t-pass')).call('CONFIG', 'GET', name)) as string[])[1];

  const params = await configuration<ListParametersResponse>(agent, 'listParameters', {});
  t.equal(params.datastore, 'redis');
  t.equal(params.datastoreVersion, '7.0');
  const byName = new Map(params.parameters.map((p) => [p.name, p]));
  t.equal(byName.get('maxmemory')?.dynamic, true);
  t.equal(byName.get('databases')?.dynamic, false, 'databases needs a restart');
  t.ok(byName.get('maxmemory-policy')?.allowedValues.includes('allkeys-lfu'));
  t.notOk(byName.has('dir'), 'dir is not a parameter anyone may change');

  const cur = await configuration<GetConfigurationResponse>(agent, 'getConfiguration', {});
  t.equal(cur.values['appendonly'], 'yes', 'the template turns on the append-only file');
  t.equal(cur.values['maxmemory-policy'], 'allkeys-lru', 'the Prepare override is in force');
  t.same(cur.overrides, { 'maxmemory-policy': 'allkeys-lru' });

  // Live: applied with CONFIG SET and rendered into redis.conf.
  const upd = await configuration<UpdateOverridesResponse>(agent, 'updateOverrides', { overrides: { maxmemory: '32M', 'notify-keyspace-events': 'Ex', save: '900 1' }, replace: false });
  t.equal(upd.restartRequired, false);
  t.ok(upd.changes.every((c) => c.appliedLive), 'all applied live');
  t.equal(await live('maxmemory'), String(32 * 1024 * 1024), 'the running server has the new value');
  t.equal(await live('notify-keyspace-events'), 'xE');
  t.equal(await live('save'), '900 1');
  t.match(conf(), /^maxmemory "33554432"$/m, 'redis.conf holds it');
  t.match(conf(), /^save "900 1"$/m);
  t.match(conf(), /^maxmemory-policy "allkeys-lru"$/m, 'earlier overrides are kept');
  t.equal((await status(agent)).state, DatastoreState.DATASTORE_STATE_ACTIVE);

  // Restart-required: rendered, reported, applied by a restart.
  const db = await configuration<UpdateOverridesResponse>(agent, 'updateOverrides', { overrides: { databases: '32' }, replace: false });
  t.equal(db.restartRequired, true);
  t.same(db.changes, [{ name: 'databases', value: '32', appliedLive: false, restartRequired: true }]);
  const s = await status(agent);
  t.equal(s.state, DatastoreState.DATASTORE_STATE_RESTART_REQUIRED);
  t.same(s.pendingRestart, ['databases']);
  t.equal(await live('databases'), '16', 'not live yet');
  await call(agent.clients.lifecycle, 'restart', {});
  t.equal((await status(agent)).state, DatastoreState.DATASTORE_STATE_ACTIVE);
  t.equal(await live('databases'), '32', 'applied by the restart');
  t.equal(await live('maxmemory'), '33554432', 'live changes survive the restart');

  // Replace: what is not given goes back to the template (or Redis) default.
  await configuration(agent, 'updateOverrides', { overrides: { timeout: '30' }, replace: true });
  const rep = await configuration<GetConfigurationResponse>(agent, 'getConfiguration', {});
  t.same(rep.overrides, { timeout: '30' });
  t.equal(rep.values['maxmemory-policy'], 'noeviction', 'back to the template value');
  t.equal(rep.values['maxmemory'], '0', 'back to the Redis default');
  t.equal(rep.values['save'], '3600 1 300 100 60 10000', 'back to the template snapshot points');
  t.notMatch(conf(), /allkeys-lru/);

  const reset = await configuration<UpdateOverridesResponse>(agent, 'resetConfiguration', {});
  t.same(reset.changes.map((c) => c.name), ['timeout']);
  t.same((await configuration<GetConfigurationResponse>(agent, 'getConfiguration', {})).overrides, {});
  t.equal(await live('timeout'), '0');
});

t.test('bad overrides are refused and change nothing', async (t) => {
  const agent = await preparedRedis(t);
  const confFile = path.join(agent.baseDir, 'etc', 'redis.conf');
  const before = readFileSync(confFile, 'utf8');
  const cases: Array<[string, Record<string, string>]> = [
    ['unknown parameter', { 'no-such-thing': '1' }],
    ['protected parameter', { dir: '/etc' }],
    ['newline in a value', { 'notify-keyspace-events': 'K\nrequirepass x' }],
    ['newline in a name', { 'maxmemory\ndir /tmp': '1' }],
    ['quote in a value', { save: '60 1" dir "/tmp' }],
    ['out of range', { hz: '0' }],
    ['not an integer', { maxmemory: 'lots' }],
    ['not allowed', { 'maxmemory-policy': 'evict-everything' }],
    ['one bad among good ones', { 'maxmemory-policy': 'allkeys-lru', hz: '100000' }],
  ];
  for (const [name, overrides] of cases) {
    await t.rejects(configuration(agent, 'updateOverrides', { overrides, replace: false }), { code: Status.INVALID_ARGUMENT }, name);
  }
  t.equal(readFileSync(confFile, 'utf8'), before, 'redis.conf is unchanged');
  const cur = await configuration<GetConfigurationResponse>(agent, 'getConfiguration', {});
  t.same(cur.overrides, {});
  t.equal(cur.values['maxmemory-policy'], 'noeviction', 'nothing was applied live');
});
