// A MariaDB replica built two ways from one source holding data:
//  - from a snapshot: incremental on the source's newest backup only when
//    that backup is of the snapshot's own (physical) strategy: a newest
//    backup that is a logical dump cannot be incremented on, and the
//    snapshot is then full instead of refused;
//  - cloned through the source agent's one-shot endpoint (AddReplicaAccess
//    with a clone ticket, then Prepare with replica_of carrying its port and
//    ticket and no restore): an endpoint unused past its expiry is closed; a
//    wrong ticket is refused and the endpoint stays open for the right one;
//    the source's mariadb-backup killed mid-stream (a real fault: the test
//    kills the process it finds under the source agent) fails the Prepare
//    naming it, with the staging directory removed and nothing started;
//    the used ticket is refused again; a copy being served is one of the
//    source agent's operations (kind replica-clone): GetStatus lists it
//    while it streams (held there: the source's mariadb-backup stopped by
//    SIGSTOP, so the copy cannot end meanwhile), CancelOperation of it
//    fails the replica's Prepare naming the cancel, with its staging
//    removed, and leaves the source ACTIVE and serving; whether the copy
//    failed, was cancelled or succeeded, the source lists it no more; a
//    clone with the right ticket holds the source's rows and follows new
//    writes.
import t from 'tap';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { call, collect } from '../../../support/agent.js';
import type { AddReplicaAccessResponse, GetReplicationStatusResponse } from '../../../../proto/gen/coffer/agent/v1/replication.js';
import { DatastoreState, type GetStatusResponse, type PrepareResponse } from '../../../../proto/gen/coffer/agent/v1/lifecycle.js';
import { deployment, PREPARE, rootSql, sourceAndReplica, sourceOf, startInstance, until, type Instance } from './replication-helpers.js';
import { holdProcess } from '../../../support/hold.js';

t.test('a MariaDB source whose newest backup is a mysqldump still builds a replica (a full snapshot); then a replica cloned through its endpoint', async (t) => {
  const d = deployment('mariadb');
  const { s, r } = await sourceAndReplica(t, d, { parent: true, parentStrategy: 'mysqldump' });
  const st = (await call<object, GetReplicationStatusResponse>(r.clients.replication, 'getReplicationStatus', {})).status!;
  t.equal(st.role, 'replica', 'the replica follows its source');
  await until('the replica to hold the rows', async () => (await rootSql(r, 'SELECT COUNT(*) FROM shop.orders')) === '100');
  await rootSql(s, 'INSERT INTO shop.orders VALUES (900, "live")');
  await until('a write on the source to show on the replica', async () => (await rootSql(r, 'SELECT COUNT(*) FROM shop.orders WHERE id = 900')) === '1', 60_000);
  t.pass('a write on the source reaches the replica');
  // The snapshot replica is done with: its server's memory goes back to the machine.
  await r.agent.stop();

  // --- cloned through the source's endpoint ---
  const c = await startInstance(t, d);
  const password = 'Repl-' + randomUUID();
  const tickets: string[] = [];
  const open = async (ttlSeconds = 0): Promise<{ port: number; ticket: string; user: string }> => {
    const ticket = randomBytes(32).toString('hex');
    tickets.push(ticket);
    const res = await call<object, AddReplicaAccessResponse>(s.clients.replication, 'addReplicaAccess', { replicas: [{ replicaId: c.id, password, cloneTicket: ticket, cloneTtlSeconds: ttlSeconds }] });
    const src = res.sources[0]!;
    t.ok((src.clonePort ?? 0) > 0, `AddReplicaAccess answers the endpoint's port (${src.clonePort})`);
    return { port: src.clonePort ?? 0, ticket, user: src.replicationUser };
  };
  // cloneCompression '' is the agent's default (none); the killed copy goes through zstd -1.
  const clone = (e: { port: number; user: string }, ticket: string, cloneCompression = '') =>
    collect<PrepareResponse>(c.clients.lifecycle.prepare({ ...PREPARE, databases: [], users: [], replicaOf: { ...sourceOf(s, e.user, password), clonePort: e.port, cloneTicket: ticket, cloneCompression } }));
  const refusal = (p: Promise<unknown>) => p.then(() => ({ code: 0, details: 'it succeeded' }), (e: { code: number; details: string }) => e);
  /** The copies the source lists among its running operations. */
  const clonesServed = async () => (await call<object, GetStatusResponse>(s.clients.lifecycle, 'getStatus', {})).operations.filter((o) => o.kind === 'replica-clone');

  // Unused past its expiry: closed.
  const expiring = await open(1);
  await until('the unused endpoint to close at its expiry', async () => !(await accepts(expiring.port)), 30_000);
  t.match((await refusal(clone(expiring, expiring.ticket))).details, /clone endpoint .* refuses connections/, 'an expired endpoint refuses the replica');

  // A wrong ticket is refused; the endpoint stays open for the right one.
  const e = await open();
  t.match((await refusal(clone(e, randomBytes(32).toString('hex')))).details, /refused the clone: the clone ticket is not valid/, 'a wrong ticket is refused');

  // The right ticket, and the source's mariadb-backup killed mid-stream.
  const killed = refusal(clone(e, e.ticket, 'zstd'));
  const tool = await until('mariadb-backup to run under the source agent', async () => descendants(s.agent.proc.pid!).find((p) => p.name === 'mariadb-backup'), 60_000);
  // Mid-stream: once the copy's first files are being extracted on the replica (polled closely: the copy is small).
  await untilClose('the copy to reach the replica', () => extracting(c), 60_000);
  process.kill(tool.pid, 'SIGKILL');
  const failed = await killed;
  t.match(failed.details, /mariadb-backup/, `the replica's Prepare fails naming the source's tool: ${failed.details.slice(0, 300)}`);
  t.match(failed.details, /SIGKILL/, 'and how it ended');
  t.match(failed.details, /after [1-9]\d* bytes/, 'after part of the copy had arrived');
  const status = await call<object, GetStatusResponse>(c.clients.lifecycle, 'getStatus', {});
  t.equal(status.state, DatastoreState.DATASTORE_STATE_FAILED, 'the replica is FAILED');
  t.same(stagingLeft(c), [], 'its staging directory is removed');
  t.notOk(existsSync(c.socket), 'and no server was started');
  t.same(descendants(c.agent.proc.pid!).filter((p) => ['mariadbd', 'mbstream', 'mariadb-backup', 'zstd'].includes(p.name)), [], 'no server or tool runs under the replica agent');
  await until('the failed copy to leave the source\'s operations', async () => (await clonesServed()).length === 0, 30_000);
  t.pass('the failed copy is no longer listed on the source');

  // The ticket is used: refused again.
  t.match((await refusal(clone(e, e.ticket))).details, /refuses connections/, 'a used ticket is refused');

  // A copy being served is listed on the source and cancellable there. Its
  // tool is held by SIGSTOP as soon as it runs: the copy cannot end while
  // the test looks at it.
  const cancelEp = await open();
  const cancelled = refusal(clone(cancelEp, cancelEp.ticket));
  const held = await until('mariadb-backup to run under the source agent', async () => descendants(s.agent.proc.pid!).find((p) => p.name === 'mariadb-backup'), 60_000);
  const release = holdProcess(t, held.pid);
  const served = await until('the source to list the copy it streams', async () => (await clonesServed()).find((o) => o.phase === 'stream'), 30_000);
  t.pass(`the source's GetStatus lists the copy it streams (kind ${served.kind}, phase ${served.phase})`);
  await call(s.clients.lifecycle, 'cancelOperation', { operationId: served.id });
  // The runner's SIGTERM waits, pending, for the held tool to run again.
  release();
  const stopped = await cancelled;
  t.match(stopped.details, /the source's mariadb-backup .*cancelled by CancelOperation/, `the replica's Prepare fails naming the cancel on the source: ${stopped.details.slice(0, 300)}`);
  t.equal((await call<object, GetStatusResponse>(c.clients.lifecycle, 'getStatus', {})).state, DatastoreState.DATASTORE_STATE_FAILED, 'the replica is FAILED');
  t.same(stagingLeft(c), [], 'its staging directory is removed');
  await until('the cancelled copy to leave the source\'s operations', async () => (await clonesServed()).length === 0, 30_000);
  t.pass('the cancelled copy is no longer listed on the source');
  t.same(descendants(s.agent.proc.pid!).filter((p) => p.name === 'mariadb-backup'), [], 'its tool no longer runs under the source agent');
  t.equal((await call<object, GetStatusResponse>(s.clients.lifecycle, 'getStatus', {})).state, DatastoreState.DATASTORE_STATE_ACTIVE, 'the source stays ACTIVE');
  t.equal(await rootSql(s, 'SELECT COUNT(*) FROM shop.orders WHERE id = 900'), '1', 'and serves');

  // A replica that stopped reading (its mbstream held by SIGSTOP: the
  // source fills the connection's buffers, a fraction of the copy, and
  // waits): CancelOperation ends the copy all the same, without waiting
  // for the replica, which reads why once it runs again.
  const stallEp = await open();
  const stalled = refusal(clone(stallEp, stallEp.ticket));
  const reader = await untilClose('mbstream to run under the replica agent', () => descendants(c.agent.proc.pid!).find((p) => p.name === 'mbstream'), 60_000);
  const resume = holdProcess(t, reader.pid);
  const stuck = await until('the source to list the copy to the stalled replica', async () => (await clonesServed()).find((o) => o.phase === 'stream'), 30_000);
  await call(s.clients.lifecycle, 'cancelOperation', { operationId: stuck.id });
  await until('the cancelled copy to leave the source\'s operations while the replica does not read', async () => (await clonesServed()).length === 0, 30_000);
  t.pass('a copy to a replica that stopped reading is cancelled without waiting for it');
  t.same(descendants(s.agent.proc.pid!).filter((p) => p.name === 'mariadb-backup'), [], 'its tool no longer runs under the source agent');
  resume();
  t.match((await stalled).details, /the source's mariadb-backup .*cancelled by CancelOperation/, 'the replica, reading again, fails naming the cancel');
  t.same(stagingLeft(c), [], 'its staging directory is removed');

  // The right ticket on a new endpoint: the replica is the source's copy and follows it.
  await rootSql(s, 'INSERT INTO shop.orders SELECT seq, "before the clone" FROM shop.seq_1000_to_1999');
  const good = await open();
  const events = await clone(good, good.ticket);
  t.equal(events.at(-1)?.result?.state, DatastoreState.DATASTORE_STATE_ACTIVE, 'the cloned replica is ACTIVE');
  t.ok(events.some((ev) => ev.progress?.phase === 'clone'), 'Prepare reports its clone phase');
  await until('the finished copy to leave the source\'s operations', async () => (await clonesServed()).length === 0, 30_000);
  t.pass('the finished copy is no longer listed on the source');
  const rows = 'SELECT COUNT(*), SUM(id) FROM shop.orders';
  t.equal(await rootSql(c, rows), await rootSql(s, rows), 'the clone holds the source\'s rows');
  t.equal((await call<object, GetReplicationStatusResponse>(c.clients.replication, 'getReplicationStatus', {})).status!.role, 'replica', 'and is a replica');
  await rootSql(s, 'INSERT INTO shop.orders VALUES (5000, "after the clone")');
  await until('a write on the source to show on the clone', async () => (await rootSql(c, 'SELECT COUNT(*) FROM shop.orders WHERE id = 5000')) === '1', 60_000);
  t.pass('a write on the source reaches the clone');
  t.equal(await rootSql(c, 'SELECT @@read_only'), '1', 'the clone is read-only');

  for (const i of [s, c]) {
    const text = i.agent.logs.join('\n');
    t.notOk(tickets.some((x) => text.includes(x)) || text.includes(password), 'no ticket or replication secret in an agent log');
  }
});

/** True while something accepts TCP connections on the port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Every live process under `pid`, with its command name. */
function descendants(pid: number): Array<{ pid: number; name: string }> {
  const parent = new Map<number, { ppid: number; name: string }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const m = /^\d+ \((.*)\) (\S) (\d+)/.exec(stat);
      if (m && m[2] !== 'Z') parent.set(Number(entry), { ppid: Number(m[3]), name: m[1]! });
    } catch {
      // gone meanwhile
    }
  }
  const out: Array<{ pid: number; name: string }> = [];
  const walk = (p: number): void => {
    for (const [child, info] of parent) {
      if (info.ppid !== p) continue;
      out.push({ pid: child, name: info.name });
      walk(child);
    }
  };
  walk(pid);
  return out;
}

/** True once the replica's restore has extracted a file of the copy. */
function extracting(i: Instance): boolean {
  return stagingLeft(i).some((d) => {
    const full = path.join(i.agent.baseDir, 'work', d, 'full');
    return existsSync(full) && readdirSync(full).length > 0;
  });
}

/** Polls every 10 ms (what it waits for may last a moment only). */
async function untilClose<T>(what: string, fn: () => T | undefined | false, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** What a clone's restore left under the instance's work root. */
function stagingLeft(i: Instance): string[] {
  const work = path.join(i.agent.baseDir, 'work');
  return existsSync(work) ? readdirSync(work).filter((f) => f.startsWith('restore-')) : [];
}
