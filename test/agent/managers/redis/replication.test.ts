// Redis replication through real agents and real redis-servers: a replica
// built from its source's snapshot, following it, refusing writes; a
// switchover by hand in the order the control runs it, under a write loop;
// detach; the replication account's limits and TLS (a plaintext login of
// it refused, a source whose certificate the CA did not sign refused);
// hostile inputs. Instances serve TLS, as the control's do, except in the
// detach test, which shows the plaintext setup (no TLS material) still works.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { status as Status } from '@grpc/grpc-js';
import type { Redis } from 'ioredis';
import { call, collect, killLeftoverDatastore, startAgent } from '../../../support/agent.js';
import { connectAs, plaintextExchange, refusal } from '../../../support/redis-cli.js';
import type { GetStatusResponse } from '../../../../proto/gen/coffer/agent/v1/lifecycle.js';
import type { DemoteSourceResponse, EnableAsSourceResponse, MakeReadOnlyResponse, WaitForTransactionResponse } from '../../../../proto/gen/coffer/agent/v1/replication.js';
import type { ReplicationStatus } from '../../../../proto/gen/coffer/agent/v1/replication_state.js';
import { PREPARE } from './fixtures/instance.js';
import { deployment, follow, repl, replicaOf, replStatus, REPL_PASSWORD, ROOT_PASSWORD, rootedRedis, rootOf, snapshotFor, until } from './fixtures/replication.js';
import type { AgentProcess } from '../../../support/agent.js';

// One TLS source holding data serves the first subtests in turn (a replica
// that follows it, its replication account); the switchover and the eject
// change roles and build their own pair; the detach test builds a plaintext
// pair, and its detached replica takes the hostile inputs.
const shared = deployment({ tls: true });
const plaintext = deployment();
const root = t;
let sharedSource: Promise<{ agent: AgentProcess; root: Redis }> | undefined;
async function sharedSourceOnce(): Promise<{ agent: AgentProcess; root: Redis }> {
  sharedSource ??= (async () => {
    const s = await rootedRedis(root, shared);
    for (let i = 0; i < 500; i++) await s.root.set(`k:${i}`, `v${i}`);
    await s.root.hset('h', 'f', 'before');
    return s;
  })();
  return sharedSource;
}

t.test('a replica built from a source holding data has it, follows new writes within seconds, and refuses writes', async (t) => {
  const d = shared;
  const { agent: source, root: src } = await sharedSourceOnce();

  const { agent: replica, root: rep } = await replicaOf(t, d, source);
  t.equal(await until('the data on the replica', async () => (await rep.dbsize()) >= 501 && rep.dbsize()), 501, 'every key of the source is on the replica');
  t.equal(await rep.get('k:499'), 'v499');

  await src.hset('h', 'f', 'after');
  await until('a new write on the replica', async () => (await rep.hget('h', 'f')) === 'after');
  t.pass('a write on the source is visible on the replica');

  t.match(await refusal(rep.set('x', '1')), /READONLY/, 'the replica refuses writes');

  const rs = await replStatus(replica);
  t.equal(rs.role, 'replica');
  t.equal(rs.dialect, 'redis');
  t.equal(rs.sourceInstanceId, 'source-instance');
  t.equal(rs.sourcePort, source.datastorePort);
  t.ok(rs.streaming, 'it is streaming from the source');
  t.equal(rs.lastError, '');
  const caughtUp = await until('the replica caught up (lag 0)', async () => {
    const s = await replStatus(replica);
    return s.lagBytes === 0 && s;
  });
  t.equal(caughtUp.lagSeconds, 0, 'an idle caught-up replica reports 0 s of lag');
  const gs = await call<object, GetStatusResponse>(replica.clients.lifecycle, 'getStatus', {});
  t.equal(gs.role, 'replica', 'GetStatus reports the role');
  t.equal(gs.replication!.role, 'replica');

  const ss = await replStatus(source);
  t.equal(ss.role, 'source');
  t.equal(ss.fenced, false);
  t.equal(ss.replicas.length, 1, 'the source sees its replica');

  // Waits compare offsets as numbers.
  const latest = (await repl<{ transactionId: string }>(source, 'getLatestTransactionId')).transactionId;
  const w = await repl<WaitForTransactionResponse>(replica, 'waitForTransaction', { transactionId: latest, timeoutSeconds: 30 });
  t.ok(w.reached, 'the replica reaches the source\'s offset');
  const far = await repl<WaitForTransactionResponse>(replica, 'waitForTransaction', { transactionId: '99999999999999', timeoutSeconds: 0 });
  t.equal(far.reached, false, 'timeout 0 answers at once');
  t.match(far.transactionId, /^\d+$/);

  // Replication survives the replica's agent restart: same role, same source.
  await replica.stop();
  const again = await startAgent(t, { datastore: 'redis', baseDir: replica.baseDir, datastorePort: replica.datastorePort, extraArgs: d.args });
  const after = await until('the restarted replica streaming', async () => {
    const s = await replStatus(again);
    return s.streaming && s;
  });
  t.equal(after.role, 'replica', 'the role survives an agent restart');
  await src.set('after-restart', '1');
  const rep2 = await rootOf(t, d, again);
  await until('a write after the restart on the replica', async () => (await rep2.get('after-restart')) === '1');
  t.pass('it still follows the source after a restart');
});

t.test('the replication account runs nothing but the replication protocol, over TLS only; a replica verifies its source\'s certificate', async (t) => {
  const d = shared;
  const { agent: source, root: src } = await sharedSourceOnce();
  await src.set('secret', 'data');
  await snapshotFor(source, [randomUUID()]);
  const r = await connectAs(t, source.datastorePort, 'coffer-replication', REPL_PASSWORD, d.tls);
  t.equal(await r.ping(), 'PONG', 'over TLS verified against the deployment\'s CA, the replication user logs in and PINGs');
  for (const [what, p] of [
    ['GET', r.get('secret')],
    ['SET', r.set('x', '1')],
    ['KEYS', r.keys('*')],
    ['CONFIG GET', r.call('CONFIG', 'GET', 'masterauth')],
    ['ACL LIST', r.call('ACL', 'LIST')],
    ['FLUSHALL', r.call('FLUSHALL')],
  ] as const) {
    t.match(await refusal(p), /NOPERM/, `${what} is refused`);
  }
  t.match(await refusal(connectAs(t, source.datastorePort, 'coffer-replication', 'wrong-password', d.tls)), /WRONGPASS/, 'a wrong secret is refused');
  // Users management cannot reach it.
  await t.rejects(call(source.clients.accounts, 'getUser', { name: 'coffer-replication', host: '' }), { code: Status.INVALID_ARGUMENT }, 'the account is reserved');

  // The same login in plaintext: the port speaks only TLS, so the
  // connection is closed without a reply (the detach test shows the same
  // exchange answered +OK +PONG by a plaintext instance).
  const plain = await plaintextExchange(source.datastorePort, [['AUTH', 'coffer-replication', REPL_PASSWORD], ['PING']]);
  t.ok(plain.closed, 'a plaintext connection of the replication user is closed by the source');
  t.notMatch(plain.answer, /\+OK|\+PONG/, 'and never authenticated or answered');
  t.match(await refusal(connectAs(t, source.datastorePort, 'coffer-replication', REPL_PASSWORD)), /./, 'a client without TLS (ioredis) cannot log in either');

  // A replica whose CA did not sign the source's certificate (another
  // deployment's) refuses the source: the link never comes up, no data flows.
  const other = deployment({ tls: true });
  const stranger = await startAgent(t, { datastore: 'redis', extraArgs: other.args });
  await collect(stranger.clients.lifecycle.prepare({ ...PREPARE, rootPassword: ROOT_PASSWORD }));
  let attachEnded = false;
  const attaching = stranger.clients.replication.attachReplica({ source: follow(source) }, () => (attachEnded = true));
  await until('the replica refusing the source\'s certificate (its server log)', async () => stranger.logs.some((l) => /certificate verify failed/.test(l)));
  t.equal(attachEnded, false, 'the attach is still waiting for a link');
  const s = await replStatus(stranger);
  t.equal(s.streaming, false, 'the replica is not streaming');
  t.match(s.lastError, /link to the source is down/, 'its status says the link is down');
  attaching.cancel();
  t.equal(await (await rootOf(t, other, stranger)).get('secret'), null, 'none of the source\'s data reached it');
});

t.test('switchover by hand (source read-only, replica waits, promote, old source demoted) loses no acknowledged write under a write loop', async (t) => {
  const d = deployment({ tls: true });
  const { agent: source, root: src } = await rootedRedis(t, d);
  const { agent: replica, root: rep } = await replicaOf(t, d, source);

  // The writer: INCR, counting the replies it got (acknowledged writes).
  let acked = 0;
  let refused = 0;
  let stop = false;
  let target: Redis = src;
  const writer = (async () => {
    while (!stop) {
      try {
        await target.incr('counter');
        acked++;
      } catch {
        refused++;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  })();
  await until('writes flowing', async () => acked > 200);

  const ro = await repl<MakeReadOnlyResponse>(source, 'makeReadOnly', { readOnly: true });
  t.match(ro.transactionId, /^\d+$/, 'MakeReadOnly answers the last offset');
  await until('the source refusing writes', async () => refused > 0);
  t.match(await refusal(src.set('y', '1')), /NOREPLICAS/, 'the source refuses every write');
  const w = await repl<WaitForTransactionResponse>(replica, 'waitForTransaction', { transactionId: ro.transactionId, timeoutSeconds: 60 });
  t.ok(w.reached, 'the replica has applied everything the source acknowledged');
  const promoted = await repl<EnableAsSourceResponse>(replica, 'enableAsSource');
  t.match(promoted.transactionId, /^\d+$/);
  target = rep;
  const ackedBefore = acked;
  await until('writes acknowledged by the new source', async () => acked > ackedBefore + 200);

  const demoted = await repl<DemoteSourceResponse>(source, 'demoteSource', { source: follow(replica, 'new-source') });
  t.equal(demoted.status!.role, 'replica', 'the old source is a replica now');
  stop = true;
  await writer;
  const onNew = Number(await rep.get('counter'));
  t.equal(onNew, acked, `the new source holds every acknowledged INCR (${acked}), none lost`);
  await until('the old source caught up with the new one', async () => Number(await src.get('counter')) === acked);
  t.pass('the old source follows the new one');
  t.match(await refusal(src.set('z', '1')), /READONLY/, 'the old source refuses writes as a replica');
  t.equal((await replStatus(replica)).role, 'source');
  t.equal((await replStatus(replica)).fenced, false, 'the promoted source is not fenced');
  const old = await replStatus(source);
  t.equal(old.role, 'replica');
  t.equal(old.sourceInstanceId, 'new-source');
});

// The replica detached here takes the hostile inputs next, as a standalone instance.
let detachedReplica: Promise<AgentProcess> = Promise.reject(new Error('the detach subtest did not run'));
detachedReplica.catch(() => undefined);

t.test('without TLS material (plaintext, as before): replication works; detach makes a replica standalone and writable; the RPCs refuse what makes no sense for a role', async (t) => {
  const d = plaintext;
  const { agent: source, root: src } = await rootedRedis(t, d);
  await src.set('a', '1');
  // Its agent outlives this subtest: the hostile inputs use it.
  const { agent: replica, root: rep } = await replicaOf(root, d, source);
  let done!: (a: AgentProcess) => void;
  let failed!: (err: Error) => void;
  detachedReplica = new Promise((resolve, reject) => {
    done = resolve;
    failed = reject;
  });
  t.teardown(() => failed(new Error('the detach subtest ended before its replica was detached')));
  await until('the data on the replica', async () => (await rep.get('a')) === '1');
  const plain = await plaintextExchange(source.datastorePort, [['AUTH', 'coffer-replication', REPL_PASSWORD], ['PING']]);
  t.same(plain, { answer: '+OK\r\n+PONG\r\n', closed: false }, 'a plaintext instance answers the replication user\'s plaintext login');

  await t.rejects(repl(source, 'detachReplica'), { code: Status.FAILED_PRECONDITION, details: /source/ }, 'a source cannot be detached');
  await t.rejects(repl(source, 'attachReplica', { source: follow(replica) }), { code: Status.FAILED_PRECONDITION, details: /DemoteSource/ });
  await t.rejects(repl(replica, 'makeReadOnly', { readOnly: false }), { code: Status.FAILED_PRECONDITION, details: /replica/ }, 'a replica cannot be made writable');
  await t.rejects(repl(replica, 'addReplicaAccess', { replicas: [{ replicaId: randomUUID(), password: REPL_PASSWORD }] }), { code: Status.FAILED_PRECONDITION, details: /replica/ }, 'replicas of replicas are refused');

  const detached = await repl<{ status: ReplicationStatus }>(replica, 'detachReplica');
  t.equal(detached.status.role, 'standalone');
  t.equal(await rep.set('mine', '1'), 'OK', 'the detached instance takes writes');
  await src.set('later', '1');
  t.equal(await rep.get('a'), '1', 'it keeps the data it had');
  t.equal((await replStatus(replica)).role, 'standalone');
  const twice = await repl<{ status: ReplicationStatus }>(replica, 'detachReplica');
  t.equal(twice.status.role, 'standalone', 'detach asked again finds the work done');
  await t.rejects(repl(replica, 'enableAsSource'), { code: Status.FAILED_PRECONDITION, details: /only a replica/ }, 'a standalone cannot be promoted');
  await t.rejects(repl(replica, 'demoteSource', { source: follow(source) }), { code: Status.FAILED_PRECONDITION, details: /AttachReplica/ });
  t.equal(await rep.get('later'), null, 'a detached instance no longer follows');
  done(replica);
});

t.test('hostile and wrong inputs get the right codes', async (t) => {
  const d = plaintext;
  // A standalone instance: the one detached above.
  const source = await detachedReplica;
  const good = { host: '127.0.0.1', port: source.datastorePort, replicationUser: 'coffer-replication', replicationPassword: REPL_PASSWORD, position: '', instanceId: 'src', slotName: '' };
  const bad: Array<[string, string, object, RegExp]> = [
    ['addReplicaAccess', 'no replicas', { replicas: [] }, /replicas is empty/],
    ['addReplicaAccess', 'replica id not a UUID', { replicas: [{ replicaId: 'r1; DROP', password: 'x' }] }, /not a UUID/],
    ['addReplicaAccess', 'replica id missing', { replicas: [{ replicaId: '', password: 'x' }] }, /replica_id is required/],
    ['addReplicaAccess', 'password missing', { replicas: [{ replicaId: randomUUID(), password: '' }] }, /password is required/],
    ['addReplicaAccess', 'password with a newline', { replicas: [{ replicaId: randomUUID(), password: 'a\nmasterauth x' }] }, /printable/],
    ['removeReplicaAccess', 'replica id not a UUID', { replicaId: '../../etc' }, /not a UUID/],
    ['attachReplica', 'no source', {}, /source is required/],
    ['attachReplica', 'no host', { source: { ...good, host: '' } }, /host is required/],
    ['attachReplica', 'host with a space', { source: { ...good, host: '127.0.0.1 6379\nreplicaof evil' } }, /not a host/],
    ['attachReplica', 'port 0', { source: { ...good, port: 0 } }, /port must be 1-65535/],
    ['attachReplica', 'port too big', { source: { ...good, port: 70000 } }, /port must be 1-65535/],
    ['attachReplica', 'no user', { source: { ...good, replicationUser: '' } }, /replication_user is required/],
    ['attachReplica', 'no password', { source: { ...good, replicationPassword: '' } }, /replication_password is required/],
    ['demoteSource', 'no source', {}, /source is required/],
    ['waitForTransaction', 'no id', { transactionId: '', timeoutSeconds: 0 }, /transaction_id is required/],
    ['waitForTransaction', 'not an offset', { transactionId: '0-1-5', timeoutSeconds: 0 }, /not a Redis replication offset/],
    ['waitForTransaction', 'negative timeout', { transactionId: '5', timeoutSeconds: -1 }, /timeout_seconds/],
    ['waitForTransaction', 'huge timeout', { transactionId: '5', timeoutSeconds: 999999 }, /timeout_seconds/],
  ];
  for (const [method, what, req, details] of bad) {
    await t.rejects(repl(source, method, req), { code: Status.INVALID_ARGUMENT, details }, `${method}: ${what}`);
  }
  t.equal((await replStatus(source)).role, 'standalone', 'nothing was changed by the refused calls');

  // Prepare with replica_of but no restore, or with users: refused before anything starts.
  const fresh = await startAgent(t, { datastore: 'redis', extraArgs: d.args });
  await t.rejects(collect(fresh.clients.lifecycle.prepare({ ...PREPARE, replicaOf: good })), { code: Status.INVALID_ARGUMENT, details: /needs restore/ });
  await t.rejects(
    collect(fresh.clients.lifecycle.prepare({ ...PREPARE, rootPassword: 'x-pass-12', restore: { location: { storage: '', location: 'x' }, backupId: '', rewrapped: undefined, target: undefined, archive: undefined }, replicaOf: good })),
    { code: Status.INVALID_ARGUMENT },
    'a replica takes no root password of its own',
  );
  const gs = await call<object, GetStatusResponse>(fresh.clients.lifecycle, 'getStatus', {});
  t.equal(gs.state, 1 /* NEW */, 'the refused Prepares changed nothing');
});

t.test('eject by hand: source agent and redis killed -9, replica promoted; the old source comes back fenced and is demoted, never a second writable source', async (t) => {
  const d = deployment({ tls: true });
  const { agent: source, root: src } = await rootedRedis(t, d);
  const { agent: replica, root: rep } = await replicaOf(t, d, source);
  for (let i = 0; i < 100; i++) await src.set(`e:${i}`, String(i));
  const latest = (await repl<{ transactionId: string }>(source, 'getLatestTransactionId')).transactionId;
  t.ok((await repl<WaitForTransactionResponse>(replica, 'waitForTransaction', { transactionId: latest, timeoutSeconds: 60 })).reached);

  // The source's agent and its datastore die at once.
  src.disconnect();
  await source.stop('SIGKILL');
  killLeftoverDatastore(source.baseDir);

  // Most advanced replica (the only one here): compared with no wait, then promoted.
  const pos = await repl<WaitForTransactionResponse>(replica, 'waitForTransaction', { transactionId: '0', timeoutSeconds: 0 });
  t.ok(pos.reached);
  const promoted = await repl<EnableAsSourceResponse>(replica, 'enableAsSource');
  t.equal(await rep.set('after-eject', '1'), 'OK', 'the new source takes writes');

  // The old source's agent comes back (no control: nothing confirms it).
  const back = await startAgent(t, { datastore: 'redis', baseDir: source.baseDir, datastorePort: source.datastorePort, extraArgs: d.args });
  const fencedStatus = await until('the old source running again', async () => {
    const s = await replStatus(back);
    return s.position !== '' && s;
  });
  t.equal(fencedStatus.role, 'source');
  t.equal(fencedStatus.fenced, true, 'it comes back fenced');
  const old = await rootOf(t, d, back);
  t.match(await refusal(old.set('split-brain', '1')), /NOREPLICAS/, 'and refuses writes: no second writable source');

  const demoted = await repl<DemoteSourceResponse>(back, 'demoteSource', {
    source: { host: '127.0.0.1', port: replica.datastorePort, replicationUser: 'coffer-replication', replicationPassword: REPL_PASSWORD, position: promoted.transactionId, instanceId: 'new-source', slotName: '' },
  });
  t.equal(demoted.status!.role, 'replica');
  t.equal(demoted.status!.fenced, false, 'a replica is not fenced: it follows');
  await until('the old source has the new source\'s write', async () => (await old.get('after-eject')) === '1');
  t.match(await refusal(old.set('x', '1')), /READONLY/, 'as a replica it refuses writes');
  t.equal(await old.get('e:99'), '99', 'the data it shared with the new source is there');
});
