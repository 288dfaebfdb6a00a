// The configuration capability against a real postgres: hostile overrides
// refused by Prepare and UpdateOverrides (the server restarts from its files
// after), and a change that cannot be saved is taken back: ALTER SYSTEM had
// already written it to postgresql.auto.conf, where the next reload would
// have brought it into force.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { status as Status } from '@grpc/grpc-js';
import { startAgent, call, collect, waitFor, type AgentProcess } from '../../../support/agent.js';
import { psql, SHOP_PREPARE } from '../../../support/psql.js';
import { DatastoreState, type GetStatusResponse } from '../../../../proto/gen/coffer/agent/v1/lifecycle.js';
import { blockWrites, hostileOverrides, refusedNaming } from './fixtures/hostile.js';

const status = (a: AgentProcess) => call<object, GetStatusResponse>(a.clients.lifecycle, 'getStatus', {});
const show = async (a: AgentProcess, name: string) => (await psql(a.datastorePort, 'alice', 'Al1ce-pass', `SHOW ${name}`, 'shop')).stdout;

t.test('postgresql', async (t) => {
  const agent = await startAgent(t, { datastore: 'postgresql' });
  const conf = path.join(agent.baseDir, 'etc', 'postgresql.conf');
  const autoConf = () => readFileSync(path.join(agent.baseDir, 'data', 'postgresql.auto.conf'), 'utf8');
  const update = (overrides: Record<string, string>) => call(agent.clients.configuration, 'updateOverrides', { overrides, replace: false });

  await t.test('Prepare refuses hostile overrides before it writes anything', async (t) => {
    for (const [name, overrides] of hostileOverrides('work_mem', '16MB')) {
      await refusedNaming(t, collect(agent.clients.lifecycle.prepare({ ...SHOP_PREPARE, overrides })), name, `Prepare ${JSON.stringify(overrides)}`);
      t.equal((await status(agent)).state, DatastoreState.DATASTORE_STATE_NEW, 'still NEW');
    }
    t.notOk(existsSync(conf), 'no postgresql.conf written');
    await collect(agent.clients.lifecycle.prepare(SHOP_PREPARE));
    t.equal((await status(agent)).state, DatastoreState.DATASTORE_STATE_ACTIVE, 'a clean Prepare then works');
  });

  await t.test('UpdateOverrides refuses them, the config files are unchanged, and the server restarts', async (t) => {
    const before = [readFileSync(conf, 'utf8'), autoConf()];
    for (const [name, overrides] of hostileOverrides('work_mem', '16MB')) {
      await refusedNaming(t, update(overrides), name, JSON.stringify(overrides));
    }
    t.same([readFileSync(conf, 'utf8'), autoConf()], before, 'postgresql.conf and postgresql.auto.conf unchanged');
    await call(agent.clients.lifecycle, 'restart', {});
    t.equal((await status(agent)).state, DatastoreState.DATASTORE_STATE_ACTIVE, 'postgres starts again');
  });

  await t.test('a change that cannot be saved is taken back, and no later reload brings it in', async (t) => {
    const before = readFileSync(conf, 'utf8');
    for (const [what, file] of [['postgresql.conf', conf], ['the overrides store', path.join(agent.baseDir, 'agent', 'overrides.json')]] as const) {
      const unblock = blockWrites(file);
      await t.rejects(update({ work_mem: '32MB' }), { code: Status.INTERNAL }, `${what} cannot be written: the update fails`);
      unblock();
      t.notMatch(autoConf(), /work_mem/, `${what}: postgresql.auto.conf does not hold the change`);
      t.equal(readFileSync(conf, 'utf8'), before, `${what}: postgresql.conf as it was`);
    }
    // A later change reloads the configuration: the refused one must not come with it.
    await update({ random_page_cost: '1.7' });
    await waitFor('the next change to apply', async () => (await show(agent, 'random_page_cost')) === '1.7', 30_000);
    t.equal(await show(agent, 'work_mem'), '4MB', 'the running server still has the old value');
    const get = await call<object, { overrides: Record<string, string> }>(agent.clients.configuration, 'getConfiguration', {});
    t.same(get.overrides, { random_page_cost: '1.7' });
  });
});
