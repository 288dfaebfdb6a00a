// MariaDB read-only fencing and divergence on real servers: an account that
// holds READ_ONLY ADMIN (which would write through read_only) loses it and
// its open session when the instance goes read-only, without a transaction
// in the binary log; a former source that took writes after its replica was
// promoted reports them when demoted, instead of dropping them silently;
// and the mysql manager, running on MariaDB here, says it speaks MariaDB's
// dialect.
import t from 'tap';
import { alive, call, collect, datastorePid } from '../../../support/agent.js';
import { mariadb } from '../../../support/mariadb-client.js';
import type { DemoteSourceResponse, GetReplicaSnapshotResponse, GetReplicationStatusResponse } from '../../../../proto/gen/coffer/agent/v1/replication.js';
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
  // Its newest backup is logical (full only): the snapshot is then full too.
  const { s, r } = await sourceAndReplica(t, d, { parent: true });
  const st = (await call<object, GetReplicationStatusResponse>(r.clients.replication, 'getReplicationStatus', {})).status!;
  t.equal(st.dialect, 'mariadb-gtid', 'the dialect is detected from the server, not the manager name');
  t.equal(st.role, 'replica');
  await until('the replica to hold the rows', async () => (await rootSql(r, 'SELECT COUNT(*) FROM shop.orders')) === '100');
  await rootSql(s, 'INSERT INTO shop.orders VALUES (500, "live")');
  await until('a write on the source to show on the replica', async () => (await rootSql(r, 'SELECT COUNT(*) FROM shop.orders WHERE id = 500')) === '1', 20_000);
  t.pass('replication flows');
  t.equal(await rootSql(r, 'SELECT @@gtid_binlog_pos'), await rootSql(s, 'SELECT @@gtid_binlog_pos'), 'the replay of the logical snapshot left no transaction of its own on the replica');
});

t.test('switchover on two replicas built from one snapshot: a lagging replica re-points without skipping, the old source follows', async (t) => {
  const d = deployment();
  const s = await startInstance(t, d);
  const r1 = await startInstance(t, d);
  const r2 = await startInstance(t, d);
  await prepare(s);
  await rootSql(s, 'CREATE TABLE shop.orders (id INT PRIMARY KEY, note VARCHAR(64)); INSERT INTO shop.orders SELECT seq, "base" FROM shop.seq_1_to_100');
  const pw = { r1: 'P1-' + randomId(), r2: 'P2-' + randomId() };
  const events = await collect<GetReplicaSnapshotResponse>(
    s.clients.replication.getReplicaSnapshot({ replicas: [{ replicaId: r1.id, password: pw.r1 }, { replicaId: r2.id, password: pw.r2 }], backupId: 'shared', parent: undefined, storage: undefined }),
  );
  const snap = events.at(-1)!.snapshot!;
  t.equal(snap.sources.length, 2, 'one snapshot, an account for each replica');
  t.equal(snap.sources[0]!.position, snap.sources[1]!.position, 'both start at the same position');
  await Promise.all(
    ([[r1, pw.r1, 0], [r2, pw.r2, 1]] as const).map(([i, p, n]) =>
      prepare(i, { databases: [], users: [], restore: { location: snap.artifact!.location, backupId: 'shared', rewrapped: undefined, target: undefined, archive: undefined }, replicaOf: sourceOf(s, snap.sources[n]!.replicationUser, p, snap.sources[n]!.position) }),
    ),
  );
  t.pass('two replicas built in parallel');

  // r2 falls behind (its replication stopped by hand) while r1 receives
  // writes: re-pointed at r1 with r1's latest position, r2 must still
  // fetch what it missed, not jump to that position.
  await until('r2 to stream', async () => (await rootSql(r2, 'SELECT COUNT(*) FROM shop.orders')) === '100');
  await rootSql(r2, 'STOP SLAVE');
  await rootSql(s, 'INSERT INTO shop.orders SELECT seq, "while r2 stopped" FROM shop.seq_101_to_105');
  const { transactionId: last } = await call<object, { transactionId: string }>(s.clients.replication, 'makeReadOnly', { readOnly: true });
  t.ok((await call<object, { reached: boolean }>(r1.clients.replication, 'waitForTransaction', { transactionId: last, timeoutSeconds: 30 })).reached);
  const promoted = (await call<object, { transactionId: string }>(r1.clients.replication, 'enableAsSource', {})).transactionId;
  const back = { s: 'B1-' + randomId(), r2: 'B2-' + randomId() };
  const access = await call<object, { sources: SourceInfo[] }>(r1.clients.replication, 'addReplicaAccess', { replicas: [{ replicaId: s.id, password: back.s }, { replicaId: r2.id, password: back.r2 }] });
  const repointed = await call<object, { status: { role: string; streaming: boolean } }>(r2.clients.replication, 'attachReplica', { source: sourceOf(r1, access.sources[1]!.replicationUser, back.r2, promoted) });
  t.equal(repointed.status.role, 'replica', 'the other replica re-pointed');
  const demoted = await call<object, DemoteSourceResponse>(s.clients.replication, 'demoteSource', { source: sourceOf(r1, access.sources[0]!.replicationUser, back.s, promoted) });
  t.equal(demoted.diverged, '');

  await rootSql(r1, 'INSERT INTO shop.orders VALUES (1000, "on the new source")');
  await until('r2 to fetch what it missed from the new source', async () => (await rootSql(r2, 'SELECT COUNT(*) FROM shop.orders WHERE id BETWEEN 101 AND 105')) === '5', 20_000);
  t.pass('the re-pointed replica fetched the transactions it had missed');
  for (const [name, i] of [['the re-pointed replica', r2], ['the old source', s]] as const) {
    await until(`${name} to receive the new source's write`, async () => (await rootSql(i, 'SELECT COUNT(*) FROM shop.orders WHERE id = 1000')) === '1', 20_000);
    const st = (await call<object, GetReplicationStatusResponse>(i.clients.replication, 'getReplicationStatus', {})).status!;
    t.ok(st.streaming && st.lastError === '', `${name} streams from the new source without error`);
    t.equal(st.sourceInstanceId, r1.id);
  }
});

t.test('kill -9 of a source and its datastore: it restarts read-only, is demoted, and follows the promoted replica', async (t) => {
  const d = deployment();
  const { s, r } = await sourceAndReplica(t, d);
  await rootSql(s, 'INSERT INTO shop.orders VALUES (400, "before the crash")');
  await until('the replica to have it', async () => (await rootSql(r, 'SELECT COUNT(*) FROM shop.orders WHERE id = 400')) === '1');
  const rootPw = 'R00t-' + randomId();
  await call(s.clients.accounts, 'enableRoot', { password: rootPw });

  const dsPid = datastorePid(s.agent.baseDir);
  s.agent.proc.kill('SIGKILL');
  process.kill(-dsPid, 'SIGKILL');
  await s.agent.exited;
  await until('the datastore to be gone', async () => !alive(dsPid));

  // The replica takes over (what eject does, by hand).
  await call(r.clients.replication, 'enableAsSource', {});
  await rootSql(r, 'INSERT INTO shop.orders VALUES (401, "on the new source")');

  // The old source's agent comes back: no control confirms it, so it serves read-only.
  const s2 = await startInstance(t, d, s);
  await until('the old source to run again', async () => (await mariadb(s2.agent.datastorePort, 'root', rootPw, 'SELECT 1')).code === 0);
  t.equal(await rootSql(s2, 'SELECT @@read_only'), '1', 'read-only from its first start');
  const w = await mariadb(s2.agent.datastorePort, 'root', rootPw, 'INSERT INTO shop.orders VALUES (402, "split brain")');
  t.match(w.stderr, /read-only/i, 'root cannot write on the restarted old source');
  const st = (await call<object, GetReplicationStatusResponse>(s2.clients.replication, 'getReplicationStatus', {})).status!;
  t.ok(st.role === 'source' && st.fenced, 'it reports a fenced source');

  const pw = 'Back-' + randomId();
  const access = await call<object, { sources: SourceInfo[] }>(r.clients.replication, 'addReplicaAccess', { replicas: [{ replicaId: s.id, password: pw }] });
  const latest = (await call<object, { transactionId: string }>(r.clients.replication, 'getLatestTransactionId', {})).transactionId;
  const res = await call<object, DemoteSourceResponse>(s2.clients.replication, 'demoteSource', { source: sourceOf(r, access.sources[0]!.replicationUser, pw, latest) });
  t.equal(res.diverged, '', 'nothing was lost: the replica had everything the old source committed');
  await until('the old source to follow the new one', async () => (await rootSql(s2, 'SELECT COUNT(*) FROM shop.orders WHERE id = 401')) === '1', 20_000);
  t.pass('the old source rejoined as a replica');
  await s2.agent.stop();
});
