// Guest logs against a real PostgreSQL (docs/logs.md): its log, enabled as
// Trove's general log by statement logging (log_statement = all, no
// restart), a role's password redacted in the followed tail, the tail
// following a truncation (copytruncate), and disabled again.
import t from 'tap';
import { readFileSync, truncateSync } from 'node:fs';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { startAgent, call, collect, waitFor } from '../../support/agent.js';
import { psql, psqlAdmin, SHOP_PREPARE } from '../../support/psql.js';
import { LogServiceClient, type LogInfo, type ListLogsResponse } from '../../../proto/gen/coffer/agent/v1/logs.js';
import { follow } from './tail-stream.js';

const PASSWORD = 'Gr33n-Elephant-77';

t.test('postgresql guest logs', async (t) => {
  const agent = await startAgent(t, { datastore: 'postgresql' });
  await collect(agent.clients.lifecycle.prepare(SHOP_PREPARE));
  const logs = new LogServiceClient(agent.address, credentials.createInsecure());
  t.teardown(() => logs.close());
  const list = async () => (await call<object, ListLogsResponse>(logs, 'listLogs', {})).logs;
  const show = async (name: string) => (await list()).find((l) => l.name === name)!;
  const alice = (sql: string) => psql(agent.datastorePort, 'alice', 'Al1ce-pass', sql, 'shop');
  const file = path.join(agent.baseDir, 'log', 'postgresql.log');

  t.same((await list()).map((l) => [l.name, l.type, l.status]), [['general', 'USER', 'Disabled'], ['guest', 'SYS', 'Ready']]);

  const r = await call<object, { log: LogInfo; restartRequired: boolean }>(logs, 'setLogEnabled', { name: 'general', enabled: true });
  t.equal(r.restartRequired, false, 'log_statement needs no restart');
  t.equal((await alice('SHOW log_statement')).stdout.trim(), 'all');
  t.equal((await show('general')).status, 'Ready');

  const tail = follow(logs, 'general', 1);
  t.teardown(() => tail.cancel());
  await alice("SELECT 'coffer-pg-1'");
  await waitFor('the statement in the tail', async () => tail.lines.some((l) => l.includes('coffer-pg-1')));

  await psqlAdmin(agent.baseDir, agent.datastorePort, `CREATE ROLE carol LOGIN PASSWORD '${PASSWORD}'`);
  await psqlAdmin(agent.baseDir, agent.datastorePort, `ALTER ROLE carol WITH ENCRYPTED PASSWORD '${PASSWORD}'`);
  await call(agent.clients.accounts, 'createUsers', { users: [{ name: 'dave', host: '', password: PASSWORD, databases: [], rules: [] }] });
  await alice("SELECT 'coffer-pg-2'");
  await waitFor('the roles in the tail', async () => tail.lines.some((l) => l.includes('coffer-pg-2')));
  t.ok(readFileSync(file, 'utf8').includes(PASSWORD), 'the file itself holds the password');
  const seen = tail.lines.join('\n');
  t.match(seen, /CREATE ROLE carol LOGIN PASSWORD '\[redacted\]'/);
  t.match(seen, /ENCRYPTED PASSWORD '\[redacted\]'/);
  t.notOk(seen.includes(PASSWORD), 'no password in the tail');
  t.notOk(/SCRAM-SHA-256\$/.test(seen), 'no SCRAM verifier in the tail either');

  truncateSync(file, 0);
  await alice("SELECT 'coffer-pg-3'");
  await waitFor('a statement after the truncation', async () => tail.lines.some((l) => l.includes('coffer-pg-3')));

  const off = await call<object, { log: LogInfo }>(logs, 'setLogEnabled', { name: 'general', enabled: false });
  t.equal(off.log.status, 'Disabled');
  t.equal((await alice('SHOW log_statement')).stdout.trim(), 'none');
});
