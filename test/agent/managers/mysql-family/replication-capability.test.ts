// The MySQL family's ReplicationCapability on real mariadbd instances started
// by real agents (mutual TLS, datastore certificates from the deployment's
// CA), driven from the test process as the agent's core drives it: a replica
// built from an incremental snapshot of a source holding data, writes
// flowing, writes refused on the replica (ordinary user and root), a
// switchover by hand under a write loop without losing an acknowledged row,
// detach, TLS required of the replication account, and hostile inputs.
import t from 'tap';
import { status as Status } from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { serverIdFor } from '../../../../agent/managers/mysql-family/server-id.js';
import { call } from '../../../support/agent.js';
import { mariadb } from '../../../support/mariadb-client.js';
import {
  backup, connectAs, deployment, prepare, randomId, replicationFor, rootSql, slaveStatus, startInstance, until,
} from './replication-helpers.js';

const never = new AbortController().signal;

t.test('a replica built from a snapshot follows its source; switchover under writes loses nothing; detach', async (t) => {
  const d = deployment();
  const s = await startInstance(t, d);
  const r = await startInstance(t, d);
  await prepare(s);

  // Each instance its own server_id, from its instance id; binary log on.
  t.equal(Number(await rootSql(s, 'SELECT @@server_id')), serverIdFor(s.id), "the source's server_id comes from its instance id");
  t.not(serverIdFor(s.id), serverIdFor(r.id), 'two instances, two server ids');
  t.equal(await rootSql(s, 'SELECT CONCAT(@@log_bin, @@binlog_format, @@log_slave_updates, @@gtid_strict_mode)'), 'ONROWONON', 'binlog ROW, log_slave_updates, strict GTIDs');
  t.notMatch(await rootSql(s, 'SHOW BINLOG EVENTS'), /coffer_admin/, "the agent's own account never went into the binary log");

  const src = replicationFor(t, s);
  const rep = replicationFor(t, r);
  t.equal(await src.dialect(), 'mariadb-gtid', 'dialect detected from the server');

  await rootSql(s, 'CREATE TABLE shop.orders (id INT PRIMARY KEY, note VARCHAR(64)); INSERT INTO shop.orders SELECT seq, CONCAT("o", seq) FROM shop.seq_1_to_500');
  const full = await backup(s, { backupId: 'base-1' });
  await rootSql(s, 'INSERT INTO shop.orders SELECT seq, "later" FROM shop.seq_501_to_800');

  // The replica's account first, then the snapshot: an increment on the newest backup.
  // Quotes, a backslash and a semicolon: the secret travels as an escaped value.
  const password = `Repl'"\\;-` + randomId();
  const [info] = await src.addReplicaAccess([{ replicaId: r.id, password }]);
  t.match(info!.replicationUser, new RegExp(`^coffer_repl_${r.id.replace(/-/g, '').slice(0, 16)}$`), 'account named from the replica id');
  t.same(await src.addReplicaAccess([{ replicaId: r.id, password }]), [info], 'asked again: the same answer');
  const atSnapshot = await rootSql(s, 'SELECT @@gtid_binlog_pos');
  const snap = await backup(s, { backupId: 'snap-1', parent: full });
  t.equal(src.snapshotPosition(snap.metadata!), atSnapshot, "the incremental snapshot's position is where the source stood when it was taken");
  t.not(src.snapshotPosition(full.metadata!), atSnapshot, "(the full backup's position is older)");

  // A write after the snapshot must arrive through replication.
  await rootSql(s, 'INSERT INTO shop.orders VALUES (801, "after snapshot")');

  await prepare(r, { databases: [], users: [], restore: { location: snap.location, backupId: 'snap-1', rewrapped: undefined, target: undefined, archive: undefined } });
  const source = { host: '127.0.0.1', port: s.agent.datastorePort, replicationUser: info!.replicationUser, replicationPassword: password, position: src.snapshotPosition(snap.metadata!), instanceId: s.id, slotName: '' };
  await rep.attach(source, never);
  t.equal(Number(await rootSql(r, 'SELECT @@server_id')), serverIdFor(r.id), "the replica's own server_id");

  await until('the replica to have every row', async () => (await rootSql(r, 'SELECT COUNT(*), SUM(id) FROM shop.orders')) === (await rootSql(s, 'SELECT COUNT(*), SUM(id) FROM shop.orders')));
  t.equal(await rootSql(r, 'SELECT note FROM shop.orders WHERE id = 801'), 'after snapshot', 'the write after the snapshot arrived');
  const t0 = Date.now();
  await rootSql(s, 'INSERT INTO shop.orders VALUES (900, "live")');
  await until('a write on the source to show on the replica', async () => (await rootSql(r, 'SELECT COUNT(*) FROM shop.orders WHERE id = 900')) === '1', 20_000);
  t.ok(Date.now() - t0 < 20_000, `a write on the source showed on the replica in ${Date.now() - t0} ms`);

  const rs = await rep.status();
  t.ok(rs.streaming, 'the replica streams');
  t.equal(rs.sourcePort, s.agent.datastorePort);
  t.equal(rs.lastError, '');
  await until('lag 0 on an idle replica', async () => {
    const st = await rep.status();
    return st.lagSeconds === 0 && st.lagBytes === 0;
  });
  const ss = await src.status();
  t.ok(ss.replicas.some((x) => x.name === info!.replicationUser), 'the source lists the connected replica');
  t.ok(rep.reached(await src.latestTransactionId(), await rep.latestTransactionId()), 'the replica has reached the source');

  // The replica refuses writes: an ordinary user, and root (ENABLE ROOT on the source, replicated).
  const rootPw = 'R00t-' + randomId();
  await call(s.clients.accounts, 'enableRoot', { password: rootPw });
  await until('root to reach the replica', async () => (await rootSql(r, "SELECT COUNT(*) FROM mysql.user WHERE User='root' AND Host='%'")) === '1');
  for (const [user, pw] of [['alice', 'Al1ce-pass'], ['root', rootPw]] as const) {
    const w = await mariadb(r.agent.datastorePort, user, pw, 'INSERT INTO shop.orders VALUES (999, "sneaky")');
    t.not(w.code, 0, `${user} cannot write on the replica`);
    t.match(w.stderr, /read-only|READ_ONLY/i, `${user} is told the server is read-only`);
    const off = await mariadb(r.agent.datastorePort, user, pw, 'SET GLOBAL read_only = OFF');
    t.not(off.code, 0, `${user} cannot lift read_only`);
  }
  const ok = await mariadb(s.agent.datastorePort, 'root', rootPw, 'INSERT INTO shop.orders VALUES (950, "root on source")');
  t.equal(ok.code, 0, `root writes on the writable source (${ok.stderr})`);

  // TLS is required of the replication account: a plaintext login is refused.
  const plain = await mariadb(s.agent.datastorePort, info!.replicationUser, password, 'SELECT 1', undefined, ['--skip-ssl']);
  t.not(plain.code, 0, 'the replication user without TLS: refused');
  t.match(plain.stderr, /Access denied/);
  const tls = await mariadb(s.agent.datastorePort, info!.replicationUser, password, 'SELECT 1', undefined, ['--ssl', `--ssl-ca=${d.pki.ca}`, '--ssl-verify-server-cert']);
  t.equal(tls.code, 0, `the replication user over verified TLS logs in (${tls.stderr})`);
  t.match(await slaveStatus(r), { Master_SSL_Allowed: 'Yes', Master_SSL_Verify_Server_Cert: 'Yes', Master_SSL_CA_File: rep.caFile }, 'replication runs over TLS verified against the deployment CA');

  // Switchover by hand under a write loop: every acknowledged row survives.
  const committed: number[] = [];
  let target = s;
  let stop = false;
  let next = 10_000;
  const loop = (async () => {
    let conn = await connectAs(target, 'alice', 'Al1ce-pass');
    while (!stop) {
      const id = next++;
      try {
        await conn.query('INSERT INTO orders VALUES (?, "loop")', [id]);
        committed.push(id);
      } catch {
        // Refused (read-only) or cut off: the application moves to the new source.
        await conn.end().catch(() => undefined);
        await new Promise((res) => setTimeout(res, 50));
        conn = await connectAs(target, 'alice', 'Al1ce-pass').catch(() => conn);
      }
    }
    await conn.end().catch(() => undefined);
  })();
  await until('the loop to commit on the source', async () => committed.length > 50);

  await src.setReadOnly(true);
  const last = await src.latestTransactionId();
  await until('the candidate to reach the old source', async () => rep.reached(last, await rep.latestTransactionId()));
  await rep.promote(never);
  const [back] = await rep.addReplicaAccess([{ replicaId: s.id, password: 'Back-' + password }]);
  target = r;
  const { diverged } = await src.demote(
    { host: '127.0.0.1', port: r.agent.datastorePort, replicationUser: back!.replicationUser, replicationPassword: 'Back-' + password, position: await rep.latestTransactionId(), instanceId: r.id, slotName: '' },
    { start: async () => undefined, stop: async () => undefined },
    never,
  );
  t.equal(diverged, '', 'nothing of the old source is missing on the new one');
  const afterSwitch = committed.length;
  await until('the loop to commit on the new source', async () => committed.length > afterSwitch + 50);
  stop = true;
  await loop;

  const onNew = new Set((await rootSql(r, 'SELECT id FROM shop.orders WHERE id >= 10000')).split('\n').map(Number));
  const lost = committed.filter((id) => !onNew.has(id));
  t.same(lost, [], `all ${committed.length} acknowledged rows are on the new source`);
  await until('the old source to follow the new one', async () => (await rootSql(s, 'SELECT COUNT(*) FROM shop.orders WHERE id >= 10000')) === String(onNew.size));
  const olds = await src.status();
  t.ok(olds.streaming, 'the old source streams from the new one');
  const w = await mariadb(s.agent.datastorePort, 'root', rootPw, 'INSERT INTO shop.orders VALUES (998, "x")');
  t.not(w.code, 0, 'the old source refuses root');

  // Persisted: the rendered option file says read_only, so a restart starts read-only.
  t.match(readFileSync(path.join(s.agent.baseDir, 'etc', 'my.cnf'), 'utf8'), /^read_only = ON$/m, 'the read-only state is in the option file');

  // A replica's access goes while it still streams (a delete does this,
  // control/workflows/delete.ts): the account is dropped and its open
  // replication connection (the source's Binlog Dump thread) is ended, not
  // left on the source until the next login.
  const connections = async (user: string): Promise<string> => rootSql(r, `SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = '${user}'`);
  t.equal(await connections(back!.replicationUser), '1', "the new source shows the old source's replication connection");
  await rep.removeReplicaAccess(s.id);
  t.equal(await rootSql(r, `SELECT COUNT(*) FROM mysql.user WHERE User='${back!.replicationUser}'`), '0', 'its account is gone from the new source');
  await until('no connection of the removed account on the source', async () => (await connections(back!.replicationUser)) === '0', 20_000);
  t.pass('the source shows no connection of the removed account');

  // Detach: standalone and writable.
  await src.detach(never);
  t.equal(await rootSql(s, 'SELECT @@read_only'), '0');
  t.notMatch(readFileSync(path.join(s.agent.baseDir, 'etc', 'my.cnf'), 'utf8'), /^read_only/m);
  const free = await mariadb(s.agent.datastorePort, 'alice', 'Al1ce-pass', 'INSERT INTO shop.orders VALUES (997, "detached")');
  t.equal(free.code, 0, `a detached replica takes writes (${free.stderr})`);
  t.equal((await src.status()).sourceHost, '', 'and follows nobody');
  await rep.removeReplicaAccess(s.id);
  t.pass('removing it again is fine');
  t.equal(await connections(back!.replicationUser), '0', 'and no connection of it came back');

  // Secrets: never in an agent's log.
  for (const i of [s, r]) {
    const text = i.agent.logs.join('\n');
    t.notOk(text.includes(password), 'the replication password is not in the log');
  }
});

t.test('hostile and wrong inputs: each refused with a message naming what is wrong', async (t) => {
  const d = deployment();
  const s = await startInstance(t, d);
  await prepare(s);
  const rep = replicationFor(t, s);
  const good = { host: '127.0.0.1', port: 3306, replicationUser: 'coffer_repl_0123456789abcdef', replicationPassword: 'Pass-word-1', position: '', instanceId: randomId(), slotName: '' };
  const cases: Array<[string, object, RegExp]> = [
    ['a user that is not ours', { replicationUser: "root'; DROP TABLE x; --" }, /replication user/],
    ['root as the user', { replicationUser: 'root' }, /replication user/],
    ['a host with a space', { host: 'a b' }, /host/],
    ['an empty host', { host: '' }, /host/],
    ['port 0', { port: 0 }, /port/],
    ['port 70000', { port: 70000 }, /port/],
    ['an empty password', { replicationPassword: '' }, /password/],
    ['a password with a newline', { replicationPassword: 'a\nb' }, /password/],
    ['a malformed position', { position: "0-1-x'; --" }, /position/],
    ['a MySQL GTID set', { position: '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5' }, /MySQL GTID set/],
    ['a domain named twice', { position: '0-1-5,0-2-6' }, /twice/],
  ];
  for (const [what, patch, msg] of cases) {
    const err = await rep.attach({ ...good, ...patch } as typeof good, never).catch((e: Error & { code?: string }) => e);
    t.equal((err as { code?: string }).code, 'AGENT_ERR_INVALID_ARGUMENT', `${what}: INVALID_ARGUMENT`);
    t.match((err as Error).message, msg, `${what}: ${(err as Error).message}`);
  }
  await t.rejects(rep.addReplicaAccess([{ replicaId: '../../etc', password: 'x-Pass-1' }]), { code: 'AGENT_ERR_INVALID_ARGUMENT', message: /instance id/ });
  await t.rejects(rep.addReplicaAccess([{ replicaId: randomId(), password: "quote'd\u0000" }]), { code: 'AGENT_ERR_INVALID_ARGUMENT', message: /password/ });
  const twice = randomId();
  await t.rejects(rep.addReplicaAccess([{ replicaId: twice, password: 'Pass-1-pass' }, { replicaId: twice, password: 'Pass-1-pass' }]), { code: 'AGENT_ERR_INVALID_ARGUMENT', message: /twice/ });
  await t.rejects(rep.removeReplicaAccess("x' OR '1'='1"), { code: 'AGENT_ERR_INVALID_ARGUMENT' });
  t.equal(await rootSql(s, "SELECT COUNT(*) FROM mysql.user WHERE User LIKE 'coffer\\_repl\\_%'"), '0', 'nothing was created');

  // A user may not take a replication account's name.
  await t.rejects(call(s.clients.accounts, 'createUsers', { users: [{ name: 'coffer_repl_0123456789abcdef', host: '%', password: 'Pass-1-pass', databases: [], rules: [] }] }), { code: Status.INVALID_ARGUMENT });

  // Positions compare per domain by seq_no, never as strings.
  t.ok(rep.reached('0-1-9', '0-1-10'), '0-1-10 includes 0-1-9 (a string compare says otherwise)');
  t.notOk(rep.reached('0-1-10', '0-1-9'));
  t.ok(rep.reached('0-1-5', '0-2-7'), 'another server id in the same domain, later seq_no: reached');
  t.notOk(rep.reached('0-1-5,1-1-3', '0-1-9'), 'a domain the current position lacks: not reached');
  t.ok(rep.reached('', '0-1-1'), 'the empty position is reached by anything');
  t.ok(rep.reached('3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5', '3E11FA47-71CA-11E1-9E33-C80AA9429562:1-3:4-9'), 'MySQL GTID sets: interval inclusion');
  t.notOk(rep.reached('3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7', '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5'), 'a gap is not reached');
  for (const bad of ['0-1', 'a-b-c', '0-1-2-3', '-1-1-1', '0-1-99999999999999999999999']) {
    t.throws(() => rep.reached(bad, '0-1-1'), { code: 'AGENT_ERR_INVALID_ARGUMENT' }, `malformed ${bad}: INVALID_ARGUMENT`);
  }
  t.throws(() => rep.reached('0-1-1', '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5'), { code: 'AGENT_ERR_INVALID_ARGUMENT' }, 'mixed notations');
});
