// MariaDB read-only fencing and divergence on real servers: an account that
// holds READ_ONLY ADMIN (which would write through read_only) loses it and
// its open session when the instance goes read-only, without a transaction
// in the binary log; a former source that took writes after its replica was
// promoted reports them when demoted, instead of dropping them silently;
// and the mysql manager, running on MariaDB here, says it speaks MariaDB's
// dialect.
import t from 'tap';
import { call } from '../../../support/agent.js';
import { mariadb } from '../../../support/mariadb-client.js';
import type { DemoteSourceResponse, GetReplicationStatusResponse } from '../../../../proto/gen/coffer/agent/v1/replication.js';
import type { SourceInfo } from '../../../../proto/gen/coffer/agent/v1/replication_state.js';
import { serverIdFor } from '../../../../agent/managers/mysql-family/server-id.js';
import { connectAs, deployment, prepare, randomId, replicationFor, rootSql, sourceAndReplica, sourceOf, startInstance, until } from './replication-helpers.js';

t.test('read-only refuses an account holding READ_ONLY ADMIN, and ends its open session', async (t) => {
  const d = deployment();
  const s = await startInstance(t, d);
  await prepare(s);
  const rep = replicationFor(t, s);
  await rootSql(s, "CREATE TABLE shop.t (id INT PRIMARY KEY); CREATE USER bob@'%' IDENTIFIED BY 'B0b-pass'; GRANT ALL PRIVILEGES ON *.* TO bob@'%' WITH GRANT OPTION");
  const open = await connectAs(s, 'bob', 'B0b-pass');
  t.teardown(() => open.end().catch(() => undefined));
  await open.query('INSERT INTO t VALUES (1)');
  const binlogBefore = await rootSql(s, 'SELECT @@gtid_binlog_pos');

  await rep.setReadOnly(true);
  await t.rejects(open.query('INSERT INTO t VALUES (2)'), 'the session opened before is refused (ended)');
  const fresh = await mariadb(s.agent.datastorePort, 'bob', 'B0b-pass', 'INSERT INTO shop.t VALUES (3)');
  t.match(fresh.stderr, /read-only/i, 'a new session of bob is refused');
  const regrant = await mariadb(s.agent.datastorePort, 'bob', 'B0b-pass', "GRANT READ_ONLY ADMIN ON *.* TO bob@'%'");
  t.not(regrant.code, 0, 'bob cannot give it back to himself');
  t.equal(await rootSql(s, 'SELECT @@gtid_binlog_pos'), binlogBefore, 'the fence wrote nothing to the binary log');
  t.equal(await rootSql(s, 'SELECT COUNT(*) FROM shop.t'), '1');

  await rep.setReadOnly(false);
  const again = await mariadb(s.agent.datastorePort, 'bob', 'B0b-pass', 'INSERT INTO shop.t VALUES (4)');
  t.equal(again.code, 0, `writable again (${again.stderr})`);
});

t.test('a former source that took writes after the promotion reports them when demoted', async (t) => {
  const d = deployment();
  const { s, r } = await sourceAndReplica(t, d);
  await until('the replica to catch up', async () => (await rootSql(r, 'SELECT COUNT(*) FROM shop.orders')) === '100');
  // The replica is promoted while the old source still takes writes (a
  // partition the fence did not cover): both write.
  await call(r.clients.replication, 'enableAsSource', {});
  await rootSql(s, 'INSERT INTO shop.orders VALUES (200, "only on the old source"), (201, "only on the old source")');
  await rootSql(r, 'INSERT INTO shop.orders VALUES (300, "on the new source")');
  const oldPos = await rootSql(s, 'SELECT @@gtid_binlog_pos');

  const pw = 'Back-' + randomId();
  const access = await call<object, { sources: SourceInfo[] }>(r.clients.replication, 'addReplicaAccess', { replicas: [{ replicaId: s.id, password: pw }] });
  const newPos = (await call<object, { transactionId: string }>(r.clients.replication, 'getLatestTransactionId', {})).transactionId;
  const res = await call<object, DemoteSourceResponse>(s.clients.replication, 'demoteSource', { source: sourceOf(r, access.sources[0]!.replicationUser, pw, newPos) });
  t.equal(res.diverged, oldPos, `the old source's own transactions are reported (${res.diverged})`);
  t.match(res.diverged, new RegExp(`^0-${serverIdFor(s.id)}-\\d+$`), 'as a GTID of the old source');
  t.equal(await rootSql(s, 'SELECT COUNT(*) FROM shop.orders WHERE id IN (200, 201)'), '2', 'its rows are still there, not dropped');
  t.equal(await rootSql(s, 'SELECT @@read_only'), '1', 'and it refuses writes');
  const st = (await call<object, GetReplicationStatusResponse>(s.clients.replication, 'getReplicationStatus', {})).status!;
  t.equal(st.role, 'replica');
  t.notOk(st.streaming, 'it does not stream transactions on top of a diverged history');
  t.match(st.lastError, /1236/, `the source's refusal is reported (${st.lastError})`);

  // Without the new source's position, the source's refusal (1236) tells.
  const res2 = await call<object, DemoteSourceResponse>(s.clients.replication, 'demoteSource', { source: sourceOf(r, access.sources[0]!.replicationUser, pw, '') });
  t.equal(res2.diverged, oldPos, 'asked again without a position: the same transactions reported');
});

t.test('the mysql manager runs on MariaDB here, says so, and builds a replica from its logical snapshot', async (t) => {
  const d = deployment('mysql');
  const { s, r } = await sourceAndReplica(t, d);
  const st = (await call<object, GetReplicationStatusResponse>(r.clients.replication, 'getReplicationStatus', {})).status!;
  t.equal(st.dialect, 'mariadb-gtid', 'the dialect is detected from the server, not the manager name');
  t.equal(st.role, 'replica');
  await until('the replica to hold the rows', async () => (await rootSql(r, 'SELECT COUNT(*) FROM shop.orders')) === '100');
  await rootSql(s, 'INSERT INTO shop.orders VALUES (500, "live")');
  await until('a write on the source to show on the replica', async () => (await rootSql(r, 'SELECT COUNT(*) FROM shop.orders WHERE id = 500')) === '1', 20_000);
  t.pass('replication flows');
  t.equal(await rootSql(r, 'SELECT @@gtid_binlog_pos'), await rootSql(s, 'SELECT @@gtid_binlog_pos'), 'the replay of the logical snapshot left no transaction of its own on the replica');
});
