// The mysql manager: MySQL's own rules on the same core. On these machines
// it runs on MariaDB's server binary (Oracle MySQL is not packaged for
// Debian 12), and GetStatus says so.
import t from 'tap';
import { status as Status } from '@grpc/grpc-js';
import { startAgent, call, collect } from '../../../support/agent.js';
import { mariadb } from '../../../support/mariadb-client.js';
import type { GetStatusResponse } from '../../../../proto/gen/coffer/agent/v1/lifecycle.js';

t.test('mysql manager: Prepare works, MySQL name limits apply, the real server version is reported', async (t) => {
  const agent = await startAgent(t, { datastore: 'mysql' });
  const long33 = 'u'.repeat(33);
  const base = { datastoreVersion: '8.0', rootPassword: '', databases: [{ name: 'app', characterSet: '', collation: '' }], overrides: {}, restore: undefined, replicaOf: undefined };
  await t.rejects(
    collect(agent.clients.lifecycle.prepare({ ...base, users: [{ name: long33, host: '%', password: 'pw-123456', databases: [], rules: [] }] })),
    { code: Status.INVALID_ARGUMENT },
    'a 33-character user name is too long for MySQL',
  );
  await collect(agent.clients.lifecycle.prepare({ ...base, users: [{ name: 'u'.repeat(32), host: '%', password: 'pw-123456', databases: ['app'], rules: [] }] }));
  const s = await call<object, GetStatusResponse>(agent.clients.lifecycle, 'getStatus', {});
  t.equal(s.datastore, 'mysql');
  t.equal(s.datastoreVersion, '8.0');
  t.match(s.serverVersion, /MariaDB/, 'the server version is the real one: this is MariaDB underneath');
  const r = await mariadb(agent.datastorePort, 'u'.repeat(32), 'pw-123456', 'SHOW DATABASES');
  t.ok(r.stdout.includes('app'), r.stderr);
});
