// The PostgreSQL write fence and an old primary's rejoin, through real
// agents: a fenced instance refuses every client (its superuser included,
// sessions already open ended) and stays fenced across a restart; an old
// source killed with its datastore while it held commits its replica never
// received comes back refusing writes, and its demotion (pg_rewind) reports
// the LSN range it had to rewind away instead of dropping it silently.
import t from 'tap';
import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { collect, call, killLeftoverDatastore, waitFor, type TestLike } from '../../../support/agent.js';
import { SHOP_PREPARE } from '../../../support/psql.js';
import { alice, deployment, FINGERPRINT, instance, REPL_PASSWORD, replicationStatus, root, rpc, sourceFor, value, type Instance } from '../../../support/pg-replication.js';
import type { GetReplicaSnapshotResponse, ReplicaSnapshot } from '../../../../proto/gen/coffer/agent/v1/replication.js';
import type { ReplicationStatus, SourceInfo } from '../../../../proto/gen/coffer/agent/v1/replication_state.js';
import { DatastoreState, type GetStatusResponse, type PrepareResponse } from '../../../../proto/gen/coffer/agent/v1/lifecycle.js';

const PREPARE = { ...SHOP_PREPARE, rootPassword: 'R00t-pass-1', replicaOf: undefined };

async function withItems(storage: string[], t: TestLike): Promise<Instance> {
  const s = await instance(t, storage);
  await collect(s.c.lifecycle.prepare(PREPARE));
  const r = await alice(s, 'CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 1000) g');
  if (r.code !== 0) throw new Error(r.stderr);
  return s;
}

t.test('a fenced instance refuses every client, ends open sessions, and stays fenced across a restart', async (t) => {
  const s = await withItems(deployment(), t);
  const open = new pg.Client({ host: '127.0.0.1', port: s.agent.datastorePort, user: 'root', password: 'R00t-pass-1', database: 'shop' });
  open.on('error', () => undefined);
  await open.connect();
  await open.query("INSERT INTO items VALUES (2000, 'before')");

  const { transactionId } = await rpc<{ transactionId: string }>(s, 'makeReadOnly', { readOnly: true });
  t.match(transactionId, /^[0-9A-F]+\/[0-9A-F]+$/, 'the position writes stopped at');
  await t.rejects(open.query("SET default_transaction_read_only = off; INSERT INTO items VALUES (2001, 'x')"), 'the superuser\'s open session was ended');
  const su = await root(s, "SET default_transaction_read_only = off; INSERT INTO items VALUES (2002, 'x')");
  t.not(su.code, 0, 'a new superuser session is refused');
  t.match(su.stderr, /pg_hba\.conf rejects/);
  t.not((await alice(s, 'SELECT 1')).code, 0, 'and a tenant user');
  const pos = await rpc<{ transactionId: string }>(s, 'getLatestTransactionId', {});
  t.equal(pos.transactionId, transactionId, 'nothing was written after it');

  // The agent stops (its datastore with it) and starts again: still fenced.
  await s.agent.stop();
  const again = await s.restart(t);
  await waitFor('the datastore back', async () => (await call<object, GetStatusResponse>(again.c.lifecycle, 'getStatus', {})).state === DatastoreState.DATASTORE_STATE_ACTIVE);
  t.not((await root(again, "INSERT INTO items VALUES (2003, 'x')")).code, 0, 'after a restart, the superuser is still refused');

  await rpc(again, 'makeReadOnly', { readOnly: false });
  t.equal((await root(again, "INSERT INTO items VALUES (2004, 'after')")).code, 0, 'lifted: writes again');
  t.equal(await value(again, 'SELECT count(*) FROM items WHERE id IN (2000, 2004)'), '2');
});

t.test('an old source killed with commits its replica never received rejoins fenced, and its demotion reports them; so does a replica that had them', async (t) => {
  const storage = deployment();
  const s = await withItems(storage, t);
  const ids = [randomUUID(), randomUUID()];
  const events = await collect<GetReplicaSnapshotResponse>(
    s.c.replication.getReplicaSnapshot({ replicas: ids.map((replicaId) => ({ replicaId, password: REPL_PASSWORD })), backupId: `snap-${ids[0]}`, parent: undefined, storage: undefined }),
  );
  const snap = events.at(-1)?.snapshot as ReplicaSnapshot;
  // c will be promoted; d keeps following the old source to its end.
  const [c, d] = await Promise.all(ids.map((id) => instance(t, storage, id)));
  const preps = await Promise.all(
    [c!, d!].map((r, i) =>
      collect<PrepareResponse>(
        r.c.lifecycle.prepare({ datastoreVersion: '15', rootPassword: '', databases: [], users: [], overrides: {}, restore: { location: snap.artifact!.location, backupId: snap.artifact!.metadata!.backupId, rewrapped: undefined, target: undefined, archive: undefined }, replicaOf: sourceFor(s, snap.sources[i]!) }),
      ),
    ),
  );
  t.same(preps.map((p) => p.at(-1)?.result?.state), [DatastoreState.DATASTORE_STATE_ACTIVE, DatastoreState.DATASTORE_STATE_ACTIVE]);
  t.equal((await alice(s, "INSERT INTO items VALUES (3000, 'replicated')")).code, 0);
  for (const r of [c!, d!]) await waitFor('the replicas have the row', async () => (await value(r, 'SELECT count(*) FROM items WHERE id = 3000')) === '1');

  // c stops; the source goes on taking (acknowledged) writes c will never
  // get, d does; then the source dies, agent and postgres, kill -9.
  await call(c!.c.lifecycle, 'stop', {});
  t.equal((await alice(s, "INSERT INTO items SELECT g, 'lost' FROM generate_series(4000, 4009) g")).code, 0, 'ten rows acknowledged by the old source only');
  await waitFor('d has them', async () => (await value(d!, "SELECT count(*) FROM items WHERE v = 'lost'")) === '10');
  s.agent.proc.kill('SIGKILL');
  await s.agent.exited;
  killLeftoverDatastore(s.agent.baseDir);

  // Eject: c is promoted without its source (as if it were the most advanced).
  await call(c!.c.lifecycle, 'start', {});
  await rpc(c!, 'enableAsSource', {});
  t.equal((await alice(c!, "INSERT INTO items VALUES (5000, 'new source')")).code, 0, 'the new source takes writes');
  const access = await rpc<{ sources: SourceInfo[] }>(c!, 'addReplicaAccess', { replicas: [{ replicaId: s.id, password: REPL_PASSWORD }, { replicaId: d!.id, password: REPL_PASSWORD }] });

  // d replayed past the point where c's timeline forked: re-pointing alone
  // could not follow c; DemoteSource rewinds it and says what it dropped.
  const dd = await rpc<{ status: ReplicationStatus; diverged: string }>(d!, 'demoteSource', { source: sourceFor(c!, access.sources[1]!) });
  t.match(dd.diverged, /^[0-9A-F]+\/[0-9A-F]+-[0-9A-F]+\/[0-9A-F]+$/, `the replica's rewound range is reported: ${dd.diverged}`);
  await waitFor('d follows c', async () => (await value(d!, FINGERPRINT)) === (await value(c!, FINGERPRINT)), 60_000);
  t.equal(await value(d!, "SELECT count(*) FROM items WHERE v = 'lost'"), '0');

  // The old source's agent comes back: a source refuses writes until the
  // control confirms it (here there is no control to confirm it).
  const old = await s.restart(t);
  await waitFor('the old source back', async () => (await call<object, GetStatusResponse>(old.c.lifecycle, 'getStatus', {})).state === DatastoreState.DATASTORE_STATE_ACTIVE);
  const w = await root(old, "SET default_transaction_read_only = off; INSERT INTO items VALUES (6000, 'split brain?')");
  t.not(w.code, 0, 'the old source comes back refusing writes, its superuser included');

  // Demoted while stopped (the switchover test demotes a running one).
  await call(old.c.lifecycle, 'stop', {});
  const demoted = await rpc<{ status: ReplicationStatus; diverged: string }>(old, 'demoteSource', { source: sourceFor(c!, access.sources[0]!) });
  t.match(demoted.diverged, /^[0-9A-F]+\/[0-9A-F]+-[0-9A-F]+\/[0-9A-F]+$/, `the rewound range is reported: ${demoted.diverged}`);
  t.equal(demoted.status.role, 'replica');
  await waitFor('the old source follows the new one', async () => (await value(old, FINGERPRINT)) === (await value(c!, FINGERPRINT)), 60_000);
  t.equal(await value(old, "SELECT count(*) FROM items WHERE v = 'lost'"), '0', 'the rows the new source never had are gone from the old one too (and were reported)');
  t.equal(await value(old, 'SELECT v FROM items WHERE id = 5000'), 'new source');
  const st = await waitFor('streaming from the new source', async () => {
    const x = await replicationStatus(old);
    return x.streaming ? x : undefined;
  });
  t.equal(st.sourceInstanceId, c!.id);

  // Demoting again (a retry after a lost answer) finds the work done.
  const twice = await rpc<{ diverged: string }>(old, 'demoteSource', { source: sourceFor(c!, access.sources[0]!) });
  t.equal(twice.diverged, '', 'a second demote rewinds nothing');
});
