// The replica snapshot is incremental on the source's newest backup only
// when that backup is of the snapshot's own (physical) strategy: a newest
// backup that is a logical dump cannot be incremented on, and the snapshot
// is then full instead of refused.
import t from 'tap';
import { call } from '../../../support/agent.js';
import type { GetReplicationStatusResponse } from '../../../../proto/gen/coffer/agent/v1/replication.js';
import { deployment, rootSql, sourceAndReplica, until } from './replication-helpers.js';

t.test('a MariaDB source whose newest backup is a mysqldump still builds a replica (a full snapshot)', async (t) => {
  const { s, r } = await sourceAndReplica(t, deployment('mariadb'), { parent: true, parentStrategy: 'mysqldump' });
  const st = (await call<object, GetReplicationStatusResponse>(r.clients.replication, 'getReplicationStatus', {})).status!;
  t.equal(st.role, 'replica', 'the replica follows its source');
  await until('the replica to hold the rows', async () => (await rootSql(r, 'SELECT COUNT(*) FROM shop.orders')) === '100');
  await rootSql(s, 'INSERT INTO shop.orders VALUES (900, "live")');
  await until('a write on the source to show on the replica', async () => (await rootSql(r, 'SELECT COUNT(*) FROM shop.orders WHERE id = 900')) === '1', 60_000);
  t.pass('a write on the source reaches the replica');
});
