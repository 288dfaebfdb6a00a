// Prepare's shared validation on a real MariaDB: a request that names the
// same account twice (alice with host "" is alice@%) is refused before
// anything is built, so the instance stays NEW and a corrected Prepare
// works; accounts that differ by host are two accounts.
import t from 'tap';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { status as Status } from '@grpc/grpc-js';
import { startAgent, call, collect, type AgentProcess } from '../../support/agent.js';
import { mariadbSocket } from '../../support/mariadb-client.js';
import { DatastoreState, type GetStatusResponse } from '../../../proto/gen/coffer/agent/v1/lifecycle.js';
import type { User } from '../../../proto/gen/coffer/agent/v1/common.js';

const status = (a: AgentProcess) => call<object, GetStatusResponse>(a.clients.lifecycle, 'getStatus', {});
const user = (name: string, host: string, databases: string[] = ['shop']): User => ({ name, host, password: 'Al1ce-pass', databases, rules: [] });
const PREPARE = {
  datastoreVersion: '10.11',
  rootPassword: '',
  databases: [{ name: 'shop', characterSet: '', collation: '' }],
  users: [user('alice', '%')],
  overrides: {},
  restore: undefined, replicaOf: undefined,
};

t.test('MariaDB Prepare refuses a request naming an account twice, and builds nothing', async (t) => {
  const agent = await startAgent(t);
  const dataDir = path.join(agent.baseDir, 'data');
  const bad: Array<[string, Partial<typeof PREPARE>, RegExp]> = [
    ['the same user and host twice', { users: [user('alice', '%'), user('alice', '%')] }, /alice@% is named twice/],
    ['host "" is host %', { users: [user('alice', ''), user('alice', '%')] }, /alice@% is named twice/],
    ['the same database twice', { databases: [PREPARE.databases[0]!, PREPARE.databases[0]!] }, /shop is named twice/],
    ['a database the request does not create', { users: [user('alice', '%', ['nowhere'])] }, /nowhere/],
  ];
  for (const [why, patch, message] of bad) {
    await t.rejects(collect(agent.clients.lifecycle.prepare({ ...PREPARE, ...patch })), { code: Status.INVALID_ARGUMENT, details: message }, why);
    t.equal((await status(agent)).state, DatastoreState.DATASTORE_STATE_NEW, `${why}: still NEW`);
    t.ok(!existsSync(dataDir) || readdirSync(dataDir).length === 0, `${why}: no data directory built`);
  }

  await collect(agent.clients.lifecycle.prepare({ ...PREPARE, users: [user('alice', '%'), user('alice', 'localhost')] }));
  t.equal((await status(agent)).state, DatastoreState.DATASTORE_STATE_ACTIVE, 'the corrected Prepare works');
  const hosts = await mariadbSocket(path.join(agent.baseDir, 'run', 'mysqld.sock'), "SELECT Host FROM mysql.user WHERE User = 'alice' ORDER BY Host");
  t.same(hosts.stdout.trim().split('\n'), ['%', 'localhost'], 'alice@% and alice@localhost are two accounts');
});
