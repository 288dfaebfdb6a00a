// The configuration capability against a real MariaDB, for what the
// MySQL-family copy got wrong: a parameter named after an Object.prototype
// property (constructor...) or a value with a control character was written
// to my.cnf (mariadbd then refused to start), and a change applied live
// stayed live when saving it failed.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { status as Status } from '@grpc/grpc-js';
import { startAgent, call, collect, type AgentProcess } from '../../../support/agent.js';
import { mariadbSocket } from '../../../support/mariadb-client.js';
import { DatastoreState, type GetStatusResponse } from '../../../../proto/gen/coffer/agent/v1/lifecycle.js';
import { blockWrites, hostileOverrides, refusedNaming } from './fixtures/hostile.js';

const PREPARE = { datastoreVersion: '', rootPassword: '', databases: [], users: [], overrides: {}, restore: undefined, replicaOf: undefined };
const status = (a: AgentProcess) => call<object, GetStatusResponse>(a.clients.lifecycle, 'getStatus', {});

t.test('mariadb', async (t) => {
  const agent = await startAgent(t);
  const cnf = path.join(agent.baseDir, 'etc', 'my.cnf');
  const q = async (sql: string) => (await mariadbSocket(path.join(agent.baseDir, 'run', 'mysqld.sock'), sql)).stdout.trim();
  const update = (overrides: Record<string, string>) => call(agent.clients.configuration, 'updateOverrides', { overrides, replace: false });

  await t.test('Prepare refuses hostile overrides before it writes anything', async (t) => {
    for (const [name, overrides] of hostileOverrides('max_connections', '100')) {
      await refusedNaming(t, collect(agent.clients.lifecycle.prepare({ ...PREPARE, overrides })), name, `Prepare ${JSON.stringify(overrides)}`);
      t.equal((await status(agent)).state, DatastoreState.DATASTORE_STATE_NEW, 'still NEW');
    }
    t.notOk(existsSync(cnf) && readFileSync(cnf, 'utf8').includes('undefined'), 'no option file with an undefined value');
    await collect(agent.clients.lifecycle.prepare(PREPARE));
    t.equal((await status(agent)).state, DatastoreState.DATASTORE_STATE_ACTIVE, 'a clean Prepare then works');
  });

  await t.test('UpdateOverrides refuses them, the option file is unchanged, and the server restarts', async (t) => {
    const before = readFileSync(cnf, 'utf8');
    for (const [name, overrides] of hostileOverrides('max_connections', '100')) {
      await refusedNaming(t, update(overrides), name, JSON.stringify(overrides));
    }
    t.equal(readFileSync(cnf, 'utf8'), before, 'my.cnf unchanged');
    t.equal(await q('SELECT @@max_connections'), '151', 'nothing applied live');
    await call(agent.clients.lifecycle, 'restart', {});
    t.equal((await status(agent)).state, DatastoreState.DATASTORE_STATE_ACTIVE, 'mariadbd starts again from the option file');
  });

  await t.test('a change that cannot be saved is taken back from the running server', async (t) => {
    const before = readFileSync(cnf, 'utf8');
    for (const [what, file] of [['my.cnf', cnf], ['the overrides store', path.join(agent.baseDir, 'agent', 'overrides.json')]] as const) {
      const unblock = blockWrites(file);
      await t.rejects(update({ max_connections: '321' }), { code: Status.INTERNAL }, `${what} cannot be written: the update fails`);
      unblock();
      t.equal(await q('SELECT @@max_connections'), '151', `${what}: the running server still has the old value`);
      t.equal(readFileSync(cnf, 'utf8'), before, `${what}: my.cnf as it was`);
    }
    const conf = await call<object, { overrides: Record<string, string> }>(agent.clients.configuration, 'getConfiguration', {});
    t.same(conf.overrides, {}, 'no override kept');
    await update({ max_connections: '222' });
    t.equal(await q('SELECT @@max_connections'), '222', 'the next change works');
  });
});
