// PostgreSQL streaming replication through real agents and real postgres
// servers, driven over the agent's ReplicationService as the control would
// (docs/replication.md): a replica cloned from its source through Prepare
// with replica_of and no restore (a wrong secret and an unreachable source
// refused first, leaving nothing half done), two more from one snapshot
// backup through Prepare with restore, a write on the source seen on the
// replica, writes refused on the replica (by the superuser too), a
// switchover under a running write loop that loses no acknowledged row and
// leaves the old primary following the new one after pg_rewind, detach,
// slots reported and dropped, TLS required of the replication role.
import t, { type Test } from 'tap';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { status as Status } from '@grpc/grpc-js';
import { call, collect, waitFor } from '../../../support/agent.js';
import { psql, psqlAdmin, SHOP_PREPARE } from '../../../support/psql.js';
import { alice, deployment, FINGERPRINT, instance, pki, REPL_PASSWORD, replicationStatus as status, root, rpc, slotOf as hex, sourceFor, value } from '../../../support/pg-replication.js';
import type { GetReplicaSnapshotResponse, ReplicaSnapshot } from '../../../../proto/gen/coffer/agent/v1/replication.js';
import type { ReplicationStatus, SourceInfo } from '../../../../proto/gen/coffer/agent/v1/replication_state.js';
import { DatastoreState, type GetStatusResponse, type PrepareResponse } from '../../../../proto/gen/coffer/agent/v1/lifecycle.js';
import { freePort } from '../../../support/ports.js';

/** The pid of a process whose command line names a path under `root`, if one runs. */
function processNaming(root: string): number | undefined {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (argv.some((a) => a.endsWith(`=${root}`) || a === root)) return Number(name);
    } catch {
      // gone
    }
  }
  return undefined;
}

t.test('a replica cloned from its source, switchover under a write loop, pg_rewind, detach and slots', async (t) => {
  const storage = deployment();
  const s = await instance(t, storage);
  await collect(s.c.lifecycle.prepare({ ...SHOP_PREPARE, rootPassword: 'R00t-pass-1', replicaOf: undefined }));
  t.equal((await alice(s, 'CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 5000) g')).code, 0);
  const fingerprint = FINGERPRINT;

  // The replica's id is known before it exists (the control makes it); its
  // access (the deployment's role, its own slot) is all the source gives:
  // no snapshot backup.
  const replicaId = randomUUID();
  const access = (await rpc<{ sources: SourceInfo[] }>(s, 'addReplicaAccess', { replicas: [{ replicaId, password: REPL_PASSWORD }] })).sources[0]!;
  t.equal(access.slotName, hex(replicaId), 'the replica has its own slot, named from its id');
  t.equal(access.replicationUser, 'coffer_replication');
  // Written after the slot was made, before the clone.
  t.equal((await alice(s, "INSERT INTO items VALUES (5001, 'after the slot')")).code, 0);

  let replica = await instance(t, storage, replicaId);
  const clonePrepare = (source: SourceInfo) => replica.c.lifecycle.prepare({ datastoreVersion: '15', rootPassword: '', databases: [], users: [], overrides: {}, restore: undefined, replicaOf: source });
  const dataDir = path.join(replica.agent.baseDir, 'data');
  const nothingHalfDone = (tt: Test, what: string): void => {
    tt.same(readdirSync(dataDir), [], `${what}: the data directory is empty`);
    tt.notOk(existsSync(path.join(replica.agent.baseDir, 'work', 'pg-clone')), `${what}: no staging copy is left`);
  };

  await t.test('a wrong secret, a source nobody answers at, a slot it never made: Prepare fails naming it, and leaves no half data directory', async (t) => {
    const wrong = await collect(clonePrepare({ ...sourceFor(s, access), replicationPassword: 'Wrong-pass-1' })).catch((e: { code: number; details: string }) => e);
    t.equal((wrong as { code: number }).code, Status.INVALID_ARGUMENT, 'a refused secret is a bad request, not worth a retry');
    t.match((wrong as { details: string }).details, /refused the replication password of coffer_replication/, (wrong as { details: string }).details);
    t.match((wrong as { details: string }).details, new RegExp(`127\\.0\\.0\\.1:${s.agent.datastorePort}`), 'names the source');
    nothingHalfDone(t, 'after a refused secret');
    const st = await call<object, GetStatusResponse>(replica.c.lifecycle, 'getStatus', {});
    t.equal(st.state, DatastoreState.DATASTORE_STATE_FAILED, 'the instance reports FAILED');
    t.match(st.reason, /cloning the source failed/);

    const away = await collect(clonePrepare({ ...sourceFor(s, access), port: await freePort() })).catch((e: { code: number; details: string }) => e);
    t.match((away as { details: string }).details, /cannot be reached/, (away as { details: string }).details);
    nothingHalfDone(t, 'after an unreachable source');

    const noSlot = await collect(clonePrepare({ ...sourceFor(s, access), slotName: hex(randomUUID()) })).catch((e: { code: number; details: string }) => e);
    t.match((noSlot as { details: string }).details, /has no replication slot coffer_[0-9a-f]{32}/, (noSlot as { details: string }).details);
    nothingHalfDone(t, 'after a slot the source never made');
    t.notOk(replica.agent.logs.join('\n').includes('Wrong-pass-1'), 'the wrong secret is in no log either');
  });

  await t.test('the agent killed mid-clone: its next boot stops the copy and leaves no half data directory', async (tt) => {
    const staging = path.join(replica.agent.baseDir, 'work', 'pg-clone');
    const running = collect(clonePrepare(sourceFor(s, access))).catch(() => 'the stream ended with the agent');
    // Fault injection a real part cannot produce on cue: pg_basebackup is
    // frozen (SIGSTOP) as soon as it runs, so the kill lands mid-copy.
    const pid = await waitFor('pg_basebackup copying into the staging dir', async () => processNaming(staging), 60_000);
    process.kill(pid, 'SIGSTOP');
    replica.agent.proc.kill('SIGKILL');
    await replica.agent.exited;
    await running;
    tt.ok(existsSync(`/proc/${pid}`), 'the copy outlived the agent');
    // Restarted for the rest of the file (the outer test owns it).
    replica = await replica.restart(t);
    const st = await waitFor('the restarted agent settled', async () => {
      const x = await call<object, GetStatusResponse>(replica.c.lifecycle, 'getStatus', {});
      return x.state === DatastoreState.DATASTORE_STATE_FAILED ? x : undefined;
    });
    tt.match(st.reason, /Prepare/, `FAILED, asking for Prepare again: ${st.reason}`);
    await waitFor('the orphaned pg_basebackup gone', async () => !existsSync(`/proc/${pid}`) || /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')));
    tt.pass('boot stopped the orphaned copy');
    nothingHalfDone(tt, 'after the kill');
    // Its walsender ends with the connection: the slot is free again.
    await waitFor('the replica\'s slot free on the source', async () => (await status(s)).slots.some((x) => x.name === access.slotName && !x.active));
  });

  // Prepare again, now with the right secret, on the same instance.
  const prep = await collect<PrepareResponse>(clonePrepare(sourceFor(s, access)));
  t.equal(prep.at(-1)?.result?.state, DatastoreState.DATASTORE_STATE_ACTIVE, 'Prepare with replica_of and no restore ends ACTIVE');
  t.ok(prep.some((e) => e.progress?.phase === 'clone'), 'Prepare reports the clone as a phase');
  t.notOk(prep.some((e) => e.progress?.phase === 'init-datadir' || e.progress?.phase === 'restore'), 'no initdb, no restore: one copy from the source');
  const bytes = prep.flatMap((e) => (e.progress?.phase === 'clone' && e.progress.bytesTotal > 0 ? [e.progress] : []));
  t.ok(bytes.length > 0 && bytes.at(-1)!.bytesDone > 0, `the clone's progress carries bytes (${bytes.at(-1)?.bytesDone} of ${bytes.at(-1)?.bytesTotal})`);
  t.notOk(existsSync(path.join(replica.agent.baseDir, 'work', 'pg-clone')), 'the staging copy was moved into place');

  await t.test('the replica has the rows, and sees a new write within seconds', async (t) => {
    await waitFor('the row written after the slot', async () => (await value(replica, 'SELECT v FROM items WHERE id = 5001')) === 'after the slot');
    t.equal(await value(replica, fingerprint), await value(s, fingerprint), 'same rows as the source');
    t.equal((await alice(s, "INSERT INTO items VALUES (6000, 'live')")).code, 0);
    await waitFor('the live write on the replica', async () => (await value(replica, 'SELECT v FROM items WHERE id = 6000')) === 'live', 30_000);
    t.pass('a write on the source is read on the replica');
  });

  await t.test('the replica refuses writes, from the superuser too', async (t) => {
    const w = await alice(replica, "INSERT INTO items VALUES (7000, 'x')");
    t.not(w.code, 0);
    t.match(w.stderr, /read-only transaction/);
    const su = await root(replica, "SET default_transaction_read_only = off; SET transaction_read_only = off; INSERT INTO items VALUES (7001, 'x')");
    t.not(su.code, 0, 'root cannot SET its way to a write');
    t.match(su.stderr, /recovery|read-only/);
    const viaApi = await call(replica.c.accounts, 'createUsers', { users: [{ name: 'bob', host: '', password: 'B0b-pass-1', databases: [], rules: [] }] }).catch((e: { code: number; details: string }) => e);
    t.equal((viaApi as { code: number }).code, Status.FAILED_PRECONDITION, 'the accounts API on a replica: refused as not possible now, not as a failure');
    t.match((viaApi as { details: string }).details, /read-only/);
  });

  await t.test('status: the replica streams with no lag at rest; the source lists it and its slot', async (t) => {
    const rs = await waitFor('the replica caught up', async () => {
      const st = await status(replica);
      return st.streaming && st.lagBytes === 0 && st.lagSeconds === 0 ? st : undefined;
    });
    t.equal(rs.role, 'replica');
    t.equal(rs.dialect, 'pg-streaming');
    t.equal(rs.sourceInstanceId, s.id);
    t.equal(rs.sourcePort, s.agent.datastorePort);
    // Idle: the figure does not grow with time.
    await value(s, 'SELECT 1');
    const again = await status(replica);
    t.equal(again.lagSeconds, 0, 'still 0 while nothing is written');
    const ss = await status(s);
    t.equal(ss.role, 'source');
    t.match(ss.replicas, [{ name: hex(replicaId), address: '127.0.0.1' }], 'the replica streams from the source');
    t.match(ss.slots, [{ name: hex(replicaId), active: true }]);
    t.ok(ss.slots[0]!.retainedBytes >= 0, 'retained bytes reported');
    const settings = await psqlAdmin(s.agent.baseDir, s.agent.datastorePort, "SELECT string_agg(name || '=' || setting, ',' ORDER BY name) FROM pg_settings WHERE name IN ('data_checksums', 'hot_standby', 'max_replication_slots', 'max_wal_senders', 'wal_level')");
    t.equal(settings.stdout, 'data_checksums=on,hot_standby=on,max_replication_slots=10,max_wal_senders=10,wal_level=replica', 'what Prepare leaves for replication and pg_rewind');
    const pos = await rpc<{ transactionId: string }>(s, 'getLatestTransactionId', {});
    t.match(pos.transactionId, /^[0-9A-F]+\/[0-9A-F]+$/);
  });

  await t.test('the replication role gets in over TLS only; its secret is in a 0600 passfile, nowhere else', async (t) => {
    const tls = { PGSSLMODE: 'verify-full', PGSSLROOTCERT: pki.ca };
    const ok = await psql(s.agent.datastorePort, 'coffer_replication', REPL_PASSWORD, 'IDENTIFY_SYSTEM', 'dbname=postgres replication=true', tls);
    t.equal(ok.code, 0, `over TLS: ${ok.stderr}`);
    const plain = await psql(s.agent.datastorePort, 'coffer_replication', REPL_PASSWORD, 'IDENTIFY_SYSTEM', 'dbname=postgres replication=true', { PGSSLMODE: 'disable' });
    t.not(plain.code, 0, 'plaintext: refused');
    t.match(plain.stderr, /no encryption|rejects connection/);
    const db = await psql(s.agent.datastorePort, 'coffer_replication', REPL_PASSWORD, 'SELECT 1', 'shop', tls);
    t.not(db.code, 0, 'and it may not log into a tenant database');
    const passfile = path.join(replica.agent.baseDir, 'etc', 'replication', 'passfile');
    t.equal(statSync(passfile).mode & 0o777, 0o600);
    for (const f of ['etc/postgresql.conf', 'etc/replication.conf', 'data/postgresql.auto.conf']) {
      t.notOk(readFileSync(path.join(replica.agent.baseDir, f), 'utf8').includes(REPL_PASSWORD), `not in ${f}`);
    }
    t.notOk(replica.agent.logs.join('\n').includes(REPL_PASSWORD), 'not in the replica agent\'s log');
    t.notOk(s.agent.logs.join('\n').includes(REPL_PASSWORD), 'not in the source agent\'s log');
  });

  await t.test('switchover under a running write loop: no acknowledged row lost, the old primary follows the new one', async (t) => {
    const acked: number[] = [];
    let target = s;
    let stop = false;
    let next = 100_000;
    const loop = (async () => {
      while (!stop) {
        const id = next++;
        const w = await alice(target, `INSERT INTO items VALUES (${id}, 'loop')`);
        if (w.code === 0) acked.push(id);
      }
    })();
    await waitFor('writes flowing', async () => acked.length >= 5);
    // The control's order (docs/replication.md): S read-only and its last
    // transaction id T; C waits for T; C enabled as source; C gives S
    // access; S demoted to a replica of C.
    const { transactionId: last } = await rpc<{ transactionId: string }>(s, 'makeReadOnly', { readOnly: true });
    const refused = await alice(s, "INSERT INTO items VALUES (1, 'fenced?')");
    t.not(refused.code, 0, 'the fenced source takes no write');
    const su = await root(s, "SET default_transaction_read_only = off; INSERT INTO items VALUES (2, 'x')");
    t.not(su.code, 0, 'not even from its superuser');
    const waited = await rpc<{ reached: boolean; transactionId: string }>(replica, 'waitForTransaction', { transactionId: last, timeoutSeconds: 60 });
    t.ok(waited.reached, `the candidate reached ${last}`);
    await rpc(replica, 'enableAsSource', {});
    target = replica;
    const access = await rpc<{ sources: SourceInfo[] }>(replica, 'addReplicaAccess', { replicas: [{ replicaId: s.id, password: REPL_PASSWORD }] });
    t.equal(access.sources[0]!.slotName, hex(s.id));
    const demoted = await rpc<{ status: ReplicationStatus; diverged: string }>(s, 'demoteSource', { source: sourceFor(replica, access.sources[0]!) });
    t.equal(demoted.diverged, '', 'nothing the new source lacks was rewound away');
    t.equal(demoted.status.role, 'replica');
    const before = acked.length;
    await waitFor('writes on the new source', async () => acked.length >= before + 5);
    stop = true;
    await loop;
    const have = new Set((await value(replica, "SELECT string_agg(id::text, ',') FROM items WHERE v = 'loop'")).split(',').map(Number));
    t.same(acked.filter((id) => !have.has(id)), [], `every one of ${acked.length} acknowledged rows is on the new source`);
    await waitFor('the old primary replays the new source\'s writes', async () => (await value(s, fingerprint)) === (await value(replica, fingerprint)), 60_000);
    t.equal((await alice(replica, "INSERT INTO items VALUES (8000, 'after')")).code, 0);
    await waitFor('a new write on the old primary', async () => (await value(s, 'SELECT v FROM items WHERE id = 8000')) === 'after', 30_000);
    const w = await alice(s, "INSERT INTO items VALUES (8001, 'x')");
    t.match(w.stderr, /read-only transaction/, 'the old primary refuses writes as a replica');
    const st = await waitFor('the old primary streaming', async () => {
      const x = await status(s);
      return x.streaming ? x : undefined;
    });
    t.equal(st.sourceInstanceId, replica.id);
  });

  await t.test('detach makes it writable; its slot is reported, then dropped with its access', async (t) => {
    const slot = hex(s.id);
    await rpc(s, 'detachReplica', {});
    t.equal((await alice(s, "INSERT INTO items VALUES (9000, 'standalone')")).code, 0, 'the detached instance takes writes');
    t.equal((await status(s)).role, 'standalone');
    // The new source still holds the slot: with nobody streaming from it, WAL piles up.
    t.equal((await alice(replica, "INSERT INTO items SELECT g, 'pile' FROM generate_series(200000, 201000) g")).code, 0);
    const held = await waitFor('WAL held by the idle slot', async () => {
      const sl = (await status(replica)).slots.find((x) => x.name === slot);
      return sl && !sl.active && sl.retainedBytes > 0 ? sl : undefined;
    });
    t.ok(held.retainedBytes > 0, `retained ${held.retainedBytes} bytes`);
    await rpc(replica, 'removeReplicaAccess', { replicaId: s.id });
    t.notOk((await status(replica)).slots.some((x) => x.name === slot), 'the slot is gone');
    t.equal((await psqlAdmin(replica.agent.baseDir, replica.agent.datastorePort, `SELECT count(*) FROM pg_replication_slots WHERE slot_name = '${slot}'`)).stdout, '0');
    await rpc(replica, 'removeReplicaAccess', { replicaId: s.id });
    t.pass('removing it again is fine');
  });

  await t.test('hostile and wrong inputs: each refused naming what is wrong', async (t) => {
    const good = sourceFor(s, { host: '', port: 0, replicationUser: 'coffer_replication', replicationPassword: '', position: '', instanceId: '', slotName: hex(replica.id) });
    const bad: Array<[string, Partial<SourceInfo>, RegExp]> = [
      ['a host with a conninfo injection', { host: "h' sslmode=disable" }, /host/],
      ['a port out of range', { port: 70000 }, /port/],
      ['another account', { replicationUser: 'coffer_admin' }, /replication_user/],
      ['a password with a newline', { replicationPassword: 'a\nprimary_conninfo=x' }, /password/],
      ['a slot that is not a replica\'s', { slotName: "x'; DROP" }, /slot_name/],
    ];
    for (const [what, patch, re] of bad) {
      const err = await rpc(replica, 'demoteSource', { source: { ...good, ...patch } }).catch((e: { code: number; details: string }) => e);
      t.equal((err as { code: number }).code, Status.INVALID_ARGUMENT, what);
      t.match((err as { details: string }).details, re, `${what}: names the field`);
    }
    for (const id of ['zz', '0/', '1/2/3', "0/1'", '']) {
      const err = await rpc(replica, 'waitForTransaction', { transactionId: id, timeoutSeconds: 0 }).catch((e: { code: number }) => e);
      t.equal((err as { code: number }).code, Status.INVALID_ARGUMENT, `transaction id ${JSON.stringify(id)}`);
    }
    const notUuid = await rpc(replica, 'addReplicaAccess', { replicas: [{ replicaId: '../../etc', password: REPL_PASSWORD }] }).catch((e: { code: number }) => e);
    t.equal((notUuid as { code: number }).code, Status.INVALID_ARGUMENT, 'a replica id that is not a UUID');
    const differ = await rpc(replica, 'addReplicaAccess', { replicas: [{ replicaId: randomUUID(), password: 'One-pass-1' }, { replicaId: randomUUID(), password: 'Two-pass-2' }] }).catch(
      (e: { code: number; details: string }) => e,
    );
    t.equal((differ as { code: number }).code, Status.INVALID_ARGUMENT, 'two passwords for the one deployment role');
    const attachPrimary = await rpc(s, 'attachReplica', { source: good }).catch((e: { code: number; details: string }) => e);
    t.equal((attachPrimary as { code: number }).code, Status.FAILED_PRECONDITION, 'a running primary is not re-pointed: it must be demoted');
    t.match((attachPrimary as { details: string }).details, /demote|DemoteSource/i);

    // A demotion towards a source nobody answers at fails naming pg_rewind,
    // and leaves the instance running as it was, fenced until told otherwise.
    const nobody = { ...good, port: await freePort() };
    const failed = await rpc(replica, 'demoteSource', { source: nobody }).catch((e: { code: number; details: string }) => e);
    t.match((failed as { details: string }).details, /pg_rewind/, 'the failed demotion names pg_rewind');
    await waitFor('running again', async () => (await call<object, GetStatusResponse>(replica.c.lifecycle, 'getStatus', {})).state === DatastoreState.DATASTORE_STATE_ACTIVE);
    t.not((await alice(replica, "INSERT INTO items VALUES (9500, 'x')")).code, 0, 'still fenced');
    await rpc(replica, 'makeReadOnly', { readOnly: false });
    t.equal((await alice(replica, "INSERT INTO items VALUES (9501, 'x')")).code, 0, 'writable once the fence is lifted');
  });
});

// Prepare with restore + replica_of stays (a user's backup may seed a
// replica; MariaDB and Redis build every replica that way).
t.test('one snapshot for two replicas; after a switchover the other replica is re-pointed and follows the new timeline', async (t) => {
  const storage = deployment();
  const s = await instance(t, storage);
  await collect(s.c.lifecycle.prepare({ ...SHOP_PREPARE, rootPassword: 'R00t-pass-1', replicaOf: undefined }));
  t.equal((await alice(s, 'CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 2000) g')).code, 0);
  const ids = [randomUUID(), randomUUID()];
  const events = await collect<GetReplicaSnapshotResponse>(
    s.c.replication.getReplicaSnapshot({ replicas: ids.map((replicaId) => ({ replicaId, password: REPL_PASSWORD })), backupId: `snap-${ids[0]}`, parent: undefined, storage: undefined }),
  );
  const snap = events.at(-1)?.snapshot as ReplicaSnapshot;
  t.same(snap.sources.map((x) => x.slotName), ids.map(hex), 'a slot for each replica, from one snapshot');
  const [a, b] = await Promise.all(ids.map((id) => instance(t, storage, id)));
  await Promise.all(
    [a!, b!].map((r, i) =>
      collect<PrepareResponse>(
        r.c.lifecycle.prepare({ datastoreVersion: '15', rootPassword: '', databases: [], users: [], overrides: {}, restore: { location: snap.artifact!.location, backupId: snap.artifact!.metadata!.backupId, rewrapped: undefined, target: undefined, archive: undefined }, replicaOf: sourceFor(s, snap.sources[i]!) }),
      ),
    ),
  );
  t.equal((await alice(s, "INSERT INTO items VALUES (3000, 'both')")).code, 0);
  for (const r of [a!, b!]) await waitFor('both replicas have the row', async () => (await value(r, 'SELECT count(*) FROM items WHERE id = 3000')) === '1');
  t.equal((await status(s)).replicas.length, 2, 'the source sees two replicas streaming');

  const { transactionId: last } = await rpc<{ transactionId: string }>(s, 'makeReadOnly', { readOnly: true });
  t.ok((await rpc<{ reached: boolean }>(a!, 'waitForTransaction', { transactionId: last, timeoutSeconds: 60 })).reached);
  await rpc(a!, 'enableAsSource', {});
  const access = await rpc<{ sources: SourceInfo[] }>(a!, 'addReplicaAccess', { replicas: [{ replicaId: b!.id, password: REPL_PASSWORD }, { replicaId: s.id, password: REPL_PASSWORD }] });
  const repointed = await rpc<{ status: ReplicationStatus }>(b!, 'attachReplica', { source: sourceFor(a!, access.sources[0]!) });
  t.equal(repointed.status.sourceInstanceId, a!.id, 'the other replica follows the new source');
  await rpc(s, 'demoteSource', { source: sourceFor(a!, access.sources[1]!) });
  t.equal((await alice(a!, "INSERT INTO items VALUES (4000, 'new timeline')")).code, 0);
  for (const r of [b!, s]) await waitFor('the new source\'s write on each replica', async () => (await value(r, 'SELECT v FROM items WHERE id = 4000').catch(() => '')) === 'new timeline', 60_000);
  const seen = await waitFor('two replicas on the new source', async () => {
    const st = await status(a!);
    return st.replicas.length === 2 ? st : undefined;
  });
  t.same(seen.replicas.map((x) => x.name).sort(), [hex(b!.id), hex(s.id)].sort());
  t.equal(await value(b!, FINGERPRINT), await value(a!, FINGERPRINT), 'same rows everywhere');
});
