// Configuration overrides against a real MariaDB: live where the server
// allows, restart-required otherwise, validated against the rules data.
import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { status as Status } from '@grpc/grpc-js';
import { startAgent, call, collect } from '../../../support/agent.js';
import { mariadbSocket } from '../../../support/mariadb-client.js';
import { DatastoreState, type GetStatusResponse } from '../../../../proto/gen/coffer/agent/v1/lifecycle.js';
import type { UpdateOverridesResponse, ListParametersResponse, GetConfigurationResponse } from '../../../../proto/gen/coffer/agent/v1/configuration.js';

t.test('overrides: live, restart-required, validated, reset', async (t) => {
  const agent = await startAgent(t);
  await collect(agent.clients.lifecycle.prepare({ datastoreVersion: '', rootPassword: '', databases: [], users: [], overrides: {}, restore: undefined, replicaOf: undefined }));
  const c = agent.clients.configuration;
  const sock = path.join(agent.baseDir, 'run', 'mysqld.sock');
  const cnf = path.join(agent.baseDir, 'etc', 'my.cnf');
  const q = async (sql: string) => (await mariadbSocket(sock, sql)).stdout.trim();
  const status = () => call<object, GetStatusResponse>(agent.clients.lifecycle, 'getStatus', {});

  const params = await call<object, ListParametersResponse>(c, 'listParameters', {});
  t.ok(params.parameters.find((p) => p.name === 'max_connections' && p.dynamic), 'rules are listed');

  // Dynamic: applied now, and persisted for the next start.
  const r1 = await call<object, UpdateOverridesResponse>(c, 'updateOverrides', { overrides: { max_connections: '321', slow_query_log: 'on', sql_mode: 'STRICT_TRANS_TABLES,NO_ZERO_DATE' }, replace: false });
  t.equal(r1.restartRequired, false);
  t.equal(await q('SELECT @@max_connections'), '321', 'applied live');
  t.equal(await q('SELECT @@slow_query_log'), '1');
  t.equal(await q('SELECT @@sql_mode'), 'STRICT_TRANS_TABLES,NO_ZERO_DATE');
  t.match(readFileSync(cnf, 'utf8'), /^max_connections = 321$/m, 'persisted to the option file');
  const conf = await call<object, GetConfigurationResponse>(c, 'getConfiguration', {});
  t.equal(conf.values.max_connections, '321');
  t.equal(conf.overrides.max_connections, '321');

  // Size suffixes are normalised.
  await call(c, 'updateOverrides', { overrides: { tmp_table_size: '32M' }, replace: false });
  t.equal(await q('SELECT @@tmp_table_size'), String(32 * 1024 * 1024));

  // Not dynamic: persisted, reported, applied by a restart.
  const r2 = await call<object, UpdateOverridesResponse>(c, 'updateOverrides', { overrides: { performance_schema: 'ON' }, replace: false });
  t.equal(r2.restartRequired, true);
  t.same(r2.changes.map((x) => [x.name, x.appliedLive, x.restartRequired]), [['performance_schema', false, true]]);
  t.equal(await q('SELECT @@performance_schema'), '0', 'not applied yet');
  const s1 = await status();
  t.equal(s1.state, DatastoreState.DATASTORE_STATE_RESTART_REQUIRED);
  t.same(s1.pendingRestart, ['performance_schema']);
  await call(agent.clients.lifecycle, 'restart', {});
  t.equal(await q('SELECT @@performance_schema'), '1', 'applied by the restart');
  t.equal(await q('SELECT @@max_connections'), '321', 'earlier overrides survive the restart');
  t.equal((await status()).state, DatastoreState.DATASTORE_STATE_ACTIVE);

  // Bad input: nothing applied, nothing persisted.
  const cnfBefore = readFileSync(cnf, 'utf8');
  const bad: Array<[Record<string, string>, string]> = [
    [{ no_such_param: '1' }, 'unknown parameter'],
    [{ max_connections: '5' }, 'below the minimum'],
    [{ max_connections: '99999999' }, 'above the maximum'],
    [{ max_connections: 'lots' }, 'not a number'],
    [{ slow_query_log: 'maybe' }, 'not a boolean'],
    [{ default_storage_engine: 'CSV' }, 'not an allowed value'],
    [{ sql_mode: 'ANSI\ninit_file=/tmp/x' }, 'newline injection'],
    [{ sql_mode: "ANSI'; SET GLOBAL read_only=1; --" }, 'quote injection'],
    [{ 'max_connections\ninit_file': '10' }, 'newline in a name'],
    [{ wait_timeout: '100', max_connections: '1' }, 'one bad value fails the whole update'],
  ];
  for (const [overrides, why] of bad) {
    await t.rejects(call(c, 'updateOverrides', { overrides, replace: false }), { code: Status.INVALID_ARGUMENT }, why);
  }
  t.equal(readFileSync(cnf, 'utf8'), cnfBefore, 'the option file is unchanged');
  t.not(await q('SELECT @@wait_timeout'), '100', 'the good half of a bad update was not applied');
  await t.rejects(call(c, 'updateOverrides', { overrides: {}, replace: false }), { code: Status.INVALID_ARGUMENT }, 'nothing given');

  // Reset: dynamic ones back to defaults now; performance_schema needs a restart.
  const r3 = await call<object, UpdateOverridesResponse>(c, 'resetConfiguration', {});
  t.equal(r3.restartRequired, true);
  t.equal(await q('SELECT @@max_connections'), '151', 'back to the default');
  t.notMatch(readFileSync(cnf, 'utf8'), /^max_connections = 321$/m);
  const after = await call<object, GetConfigurationResponse>(c, 'getConfiguration', {});
  t.same(after.overrides, {});
});
