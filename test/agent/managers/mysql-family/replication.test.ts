// MariaDB replication through the agents' own RPCs, as the control drives
// it: GetReplicaSnapshot on a source holding data (incremental on its newest
// backup), Prepare of a new instance with restore + replica_of, writes
// flowing and refused on the replica, a switchover by hand (MakeReadOnly,
// WaitForTransaction, EnableAsSource, AddReplicaAccess, DemoteSource) under
// a running write loop that loses no acknowledged row, the demoted source's
// agent restarted (read-only, following), and DetachReplica. Real mariadbd,
// real agents, mutual TLS.
import t from 'tap';
import { status as Status } from '@grpc/grpc-js';
import { call, collect } from '../../../support/agent.js';
import { mariadb } from '../../../support/mariadb-client.js';
import type { GetReplicaSnapshotResponse, WaitForTransactionResponse, DemoteSourceResponse, GetReplicationStatusResponse } from '../../../../proto/gen/coffer/agent/v1/replication.js';
import type { GetStatusResponse } from '../../../../proto/gen/coffer/agent/v1/lifecycle.js';
import type { SourceInfo } from '../../../../proto/gen/coffer/agent/v1/replication_state.js';
import { backup, connectAs, deployment, prepare, randomId, rootSql, startInstance, until, type Instance } from './replication-helpers.js';

const replStatus = async (i: Instance) => (await call<object, GetReplicationStatusResponse>(i.clients.replication, 'getReplicationStatus', {})).status!;
const latest = async (i: Instance) => (await call<object, { transactionId: string }>(i.clients.replication, 'getLatestTransactionId', {})).transactionId;
const sourceOf = (i: Instance, user: string, password: string, position = ''): SourceInfo => ({
  host: '127.0.0.1', port: i.agent.datastorePort, replicationUser: user, replicationPassword: password, position, instanceId: i.id, slotName: '',
});

t.test('replica through the RPCs: snapshot, Prepare with replica_of, switchover under writes, restart, detach', async (t) => {
  const d = deployment();
  const s = await startInstance(t, d);
  const r = await startInstance(t, d);
  await prepare(s);
  await rootSql(s, 'CREATE TABLE shop.orders (id INT PRIMARY KEY, note VARCHAR(64)); INSERT INTO shop.orders SELECT seq, "base" FROM shop.seq_1_to_2000');
  const newest = await backup(s, { backupId: 'nightly-1' });
  await rootSql(s, 'INSERT INTO shop.orders SELECT seq, "since nightly" FROM shop.seq_2001_to_3000');

  // The snapshot: the replica's account, then an increment on the newest backup.
  const password = 'Repl-' + randomId();
  const events = await collect<GetReplicaSnapshotResponse>(s.clients.replication.getReplicaSnapshot({ replicas: [{ replicaId: r.id, password }], backupId: 'snap-1', parent: newest, storage: undefined }));
  const snap = events.at(-1)!.snapshot!;
  t.ok(snap, 'the stream ends with the snapshot');
  t.equal(snap.artifact!.metadata!.parentId, 'nightly-1', 'incremental on the newest backup');
  const [info] = snap.sources;
  t.match(info!.position, /^0-\d+-\d+$/, `the snapshot ends at a GTID position (${info!.position})`);
  t.equal((await replStatus(s)).role, 'source');

  await prepare(r, {
    databases: [], users: [],
    restore: { location: snap.artifact!.location, backupId: 'snap-1', rewrapped: undefined, target: undefined, archive: undefined },
    replicaOf: sourceOf(s, info!.replicationUser, password, info!.position),
  });
  await until('the replica to hold the same rows', async () => (await rootSql(r, 'SELECT COUNT(*), SUM(id) FROM shop.orders')) === (await rootSql(s, 'SELECT COUNT(*), SUM(id) FROM shop.orders')));
  t.pass('the replica holds the same rows');
  await rootSql(s, 'INSERT INTO shop.orders VALUES (5000, "live")');
  await until('a write on the source to show on the replica', async () => (await rootSql(r, 'SELECT COUNT(*) FROM shop.orders WHERE id = 5000')) === '1', 20_000);
  t.pass('a write on the source shows on the replica');

  const st = await call<object, GetStatusResponse>(r.clients.lifecycle, 'getStatus', {});
  t.equal(st.replication!.role, 'replica', 'GetStatus: a replica');
  t.equal(st.replication!.sourceInstanceId, s.id, 'of the source');
  t.equal(st.replication!.dialect, 'mariadb-gtid');
  await until('the replica idle and caught up: lag 0', async () => {
    const x = await replStatus(r);
    return x.streaming && x.lagSeconds === 0 && x.lagBytes === 0;
  });
  t.pass('lag 0 seconds and 0 transactions on an idle replica');
  t.ok((await replStatus(s)).replicas.some((x) => x.name === info!.replicationUser), 'the source lists its replica');

  // Writes refused on the replica, root included.
  const rootPw = 'R00t-' + randomId();
  await call(s.clients.accounts, 'enableRoot', { password: rootPw });
  await until('root to reach the replica', async () => (await rootSql(r, "SELECT COUNT(*) FROM mysql.user WHERE User='root' AND Host='%'")) === '1');
  for (const [user, pw] of [['alice', 'Al1ce-pass'], ['root', rootPw]] as const) {
    const w = await mariadb(r.agent.datastorePort, user, pw, 'INSERT INTO shop.orders VALUES (6000, "no")');
    t.match(w.stderr, /read-only/i, `${user}: refused on the replica`);
  }
  // Passwords travel to replicas as hashes: MariaDB would log IDENTIFIED BY '<clear>' as typed.
  for (const [name, i] of [['source', s], ['replica', r]] as const) {
    const events = await rootSql(i, 'SHOW BINLOG EVENTS');
    t.ok(events.includes('IDENTIFIED'), `the ${name}'s binary log holds the account statements`);
    t.notOk(events.includes(rootPw) || events.includes('Al1ce-pass') || events.includes(password), `no password in clear in the ${name}'s binary log`);
  }
  await t.rejects(call(r.clients.replication, 'makeReadOnly', { readOnly: false }), { code: Status.FAILED_PRECONDITION }, 'a replica is not made writable by MakeReadOnly');

  // Switchover by hand under a write loop.
  const committed: number[] = [];
  let target = s;
  let stop = false;
  let next = 100_000;
  const loop = (async () => {
    let conn = await connectAs(target, 'alice', 'Al1ce-pass');
    while (!stop) {
      const id = next++;
      try {
        await conn.query('INSERT INTO orders VALUES (?, "loop")', [id]);
        committed.push(id);
      } catch {
        await conn.end().catch(() => undefined);
        await new Promise((res) => setTimeout(res, 50));
        conn = await connectAs(target, 'alice', 'Al1ce-pass').catch(() => conn);
      }
    }
    await conn.end().catch(() => undefined);
  })();
  await until('the loop to commit on the source', async () => committed.length > 100);

  const started = Date.now();
  const { transactionId: last } = await call<object, { transactionId: string }>(s.clients.replication, 'makeReadOnly', { readOnly: true });
  const waited = await call<object, WaitForTransactionResponse>(r.clients.replication, 'waitForTransaction', { transactionId: last, timeoutSeconds: 60 });
  t.ok(waited.reached, `the candidate reached ${last}`);
  await call(r.clients.replication, 'enableAsSource', {});
  target = r;
  const backPassword = 'Back-' + randomId();
  const access = await call<object, { sources: SourceInfo[] }>(r.clients.replication, 'addReplicaAccess', { replicas: [{ replicaId: s.id, password: backPassword }] });
  const demoted = await call<object, DemoteSourceResponse>(s.clients.replication, 'demoteSource', { source: sourceOf(r, access.sources[0]!.replicationUser, backPassword, await latest(r)) });
  t.equal(demoted.diverged, '', 'the old source had nothing the new one lacks');
  t.equal(demoted.status!.role, 'replica');
  t.ok(Date.now() - started < 60_000, `switchover took ${Date.now() - started} ms`);
  const before = committed.length;
  await until('the loop to commit on the new source', async () => committed.length > before + 100);
  stop = true;
  await loop;
  const onNew = new Set((await rootSql(r, 'SELECT id FROM shop.orders WHERE id >= 100000')).split('\n').map(Number));
  t.same(committed.filter((id) => !onNew.has(id)), [], `every one of ${committed.length} acknowledged rows is on the new source`);
  await until('the old source to follow the new one', async () => (await rootSql(s, 'SELECT COUNT(*) FROM shop.orders WHERE id >= 100000')) === String(onNew.size));
  t.pass('the old source follows the new one');

  // The old source's agent restarted: read-only from its first start, still following.
  await s.agent.stop();
  const s2 = await startInstance(t, d, s);
  await until('the restarted instance to run', async () => (await call<object, GetStatusResponse>(s2.clients.lifecycle, 'getStatus', {})).replication?.streaming);
  t.equal(await rootSql(s2, 'SELECT @@read_only'), '1', 'read-only after the restart');
  const w = await mariadb(s2.agent.datastorePort, 'root', rootPw, 'INSERT INTO shop.orders VALUES (6001, "no")');
  t.match(w.stderr, /read-only/i, 'root refused after the restart');
  await rootSql(r, 'INSERT INTO shop.orders VALUES (7000, "after restart")');
  await until('a write on the new source to reach the restarted replica', async () => (await rootSql(s2, 'SELECT COUNT(*) FROM shop.orders WHERE id = 7000')) === '1', 20_000);
  t.pass('the restarted replica follows again');

  // Detach: standalone and writable; the source drops its access.
  const detached = await call<object, { status: { role: string } }>(s2.clients.replication, 'detachReplica', {});
  t.equal(detached.status.role, 'standalone');
  const ok = await mariadb(s2.agent.datastorePort, 'alice', 'Al1ce-pass', 'INSERT INTO shop.orders VALUES (6002, "mine")');
  t.equal(ok.code, 0, `a detached instance takes writes (${ok.stderr})`);
  await call(r.clients.replication, 'removeReplicaAccess', { replicaId: s.id });
  t.equal(await rootSql(r, `SELECT COUNT(*) FROM mysql.user WHERE User = '${access.sources[0]!.replicationUser}'`), '0', 'the account is gone');

  for (const i of [s, r, s2]) {
    const text = i.agent.logs.join('\n');
    t.notOk(text.includes(password) || text.includes(backPassword), 'no replication secret in an agent log');
  }
  await s2.agent.stop();
});
