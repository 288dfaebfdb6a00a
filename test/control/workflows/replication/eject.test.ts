// Losing the source, through the real control and agents: kill -9 of the
// source's agent and of its datastore (by pid), as a crashed VM.
// - eject: the operator ejects the source; the most advanced replica takes
//   writes, the other follows it; the old source's agent, started again,
//   comes back refusing writes and rejoins as a replica of the new source,
//   never a second writable source.
// - detach: then the new source dies too and the other replica is detached
//   while the source is unreachable: it still becomes standalone and
//   writable.
// - automatic failover: a replica added with auto_failover turns it on for
//   the set; the same kill, and no human step; the time from the kill to
//   the first write the new source accepts is logged.
// One set per datastore serves the three in turn (the suite's time is watched).
import t, { type Test } from 'tap';
import { InstanceStatus, type EjectReplicaSourceResponse, type Instance } from '../../../../proto/gen/coffer/control/v1/instances.js';
import { ccall, startControl, type ControlHarness } from '../../../support/control.js';
import { waitFor } from '../../../support/agent.js';
import { createReplicas, createSource, DATASTORE_USERS, getInstance, isActive, killInstance, restartAgent, waitInstance, waitRows, type DatastoreUser, takesWrite } from '../../../support/replication.js';
import { diagnose, readDb } from '../../../support/replication-crash.js';

t.setTimeout(30 * 60_000);
// The datastores in parallel: each has its own control and set, and most of
// the time goes in waiting (heartbeats, leases), not in CPU.
t.jobs = Number(process.env.COFFER_REPLICATION_JOBS ?? 2);

const DATASTORES = (process.env.COFFER_REPLICATION_DATASTORES ?? 'mariadb,postgresql,redis').split(',');
const HEARTBEAT = { heartbeatSeconds: 1, heartbeatExpirySeconds: 3 };

/** A source with rows 1..20 and two ACTIVE replicas holding them. */
async function set(h: ControlHarness, token: string, u: DatastoreUser, name: string, autoFailover: boolean): Promise<{ source: Instance; replicas: Instance[] }> {
  const source = await createSource(h, token, u, name, 20);
  const created = await createReplicas(h, token, source.id, `${name}-r`, 2, autoFailover);
  const replicas = await Promise.all(created.replicas.map((r) => waitInstance(h, token, r.id, `${r.name} ACTIVE`, isActive)));
  for (const r of replicas) await waitRows(u, r.port, [20], `${r.name} caught up`);
  return { source: await getInstance(h, token, source.id), replicas };
}

/**
 * The fault a detach recorded against the source when it could not drop
 * the replica's access. Read from the control's database: the instance
 * view shows a fault only on an instance in ERROR.
 */
function leftover(h: ControlHarness, sourceId: string): string {
  return readDb(h, (db) => (db.prepare("SELECT message FROM instance_faults WHERE instance_id = ? AND step = 'detach' ORDER BY rowid DESC LIMIT 1").get(sourceId) as { message: string } | undefined)?.message ?? '');
}

/**
 * After the old source's agent is started again: until the records say it
 * rejoined, every write it is asked to take is refused; then it follows
 * the new source.
 */
async function rejoins(t: Test, h: ControlHarness, token: string, u: DatastoreUser, old: Instance, newSource: Instance, row: number): Promise<void> {
  restartAgent(h, old.id);
  let attempts = 0;
  let accepted = 0;
  const back = await waitFor('the old source rejoined as a replica', async () => {
    const i = await getInstance(h, token, old.id);
    const refusal = await u.refusal(old.port, row + 100_000 + attempts++);
    if (refusal === '') accepted++;
    return isActive(i) && i.replicaOf?.id === newSource.id && i.role === 'replica' ? i : false;
  }, 300_000);
  t.equal(accepted, 0, `the old source took no write while it came back (${attempts} tried)`);
  t.equal(back.replicaOf?.id, newSource.id, 'it is a replica of the new source');
  await takesWrite(t, u, newSource.port, row, 'a write on the new source');
  await waitRows(u, old.port, [row], 'the old source follows the new source');
  t.not(await u.refusal(old.port, row + 1), '', 'the old source refuses writes as a replica');
}

for (const ds of DATASTORES) {
  const u = DATASTORE_USERS[ds]!;

  // One set per datastore serves the three in turn.
  t.test(`${ds}: eject a dead source and its rejoin; detach with the source unreachable; automatic failover`, { buffered: true }, async (t) => {
    const h = await startControl(t, { ...HEARTBEAT, extraArgs: ['--failover-grace-seconds', '2'] });
    const token = h.token('p1');
    const { source, replicas } = await set(h, token, u, `ej-${ds}`, false);
    t.notOk(source.autoFailover, 'the set has no automatic failover');

    // Eject.
    killInstance(h, source.id);
    await waitInstance(h, token, source.id, 'the source shows unreachable', (i) => !i.agentReachable, 60_000);
    const e = await ccall<EjectReplicaSourceResponse>(h.clients.instances, 'ejectReplicaSource', { id: source.id }, token);
    t.ok(e.taskId, 'the eject started');
    const newSource = await waitFor('a replica took over', async () => {
      for (const r of replicas) {
        const i = await getInstance(h, token, r.id);
        if (isActive(i) && !i.replicaOf) return i;
      }
      return false;
    }, 300_000);
    const other = replicas.find((r) => r.id !== newSource.id)!;
    const o = await waitInstance(h, token, other.id, 'the other replica ACTIVE', isActive);
    t.equal(o.replicaOf?.id, newSource.id, 'the other replica follows the new source');
    const ejected = await getInstance(h, token, source.id);
    t.equal(ejected.status, InstanceStatus.INSTANCE_STATUS_ERROR, 'the ejected source is ERROR');
    t.match(ejected.fault?.message ?? '', /ejected/, `with a fault saying so: ${ejected.fault?.message}`);
    t.equal(ejected.replicaOf?.id, newSource.id, 'and is recorded as a replica of the new source');

    await takesWrite(t, u, newSource.port, 21, 'the new source takes writes');
    await waitRows(u, o.port, [1, 20, 21], 'the other replica has the old rows and the new one');
    await rejoins(t, h, token, u, source, newSource, 777);

    // Detach while the source is unreachable (its agent and datastore
    // killed -9): the replica still becomes standalone and writable; the
    // access the source could not drop is recorded against the source.
    killInstance(h, newSource.id);
    await waitInstance(h, token, newSource.id, 'the new source shows unreachable', (i) => !i.agentReachable, 60_000);
    await ccall(h.clients.instances, 'detachReplica', { id: other.id }, token);
    const alone = await waitInstance(h, token, other.id, 'the detached replica ACTIVE', (i) => isActive(i) && !i.replicaOf);
    t.equal(alone.role, 'standalone', 'detached with its source unreachable: standalone');
    t.equal(await u.refusal(other.port, 30_000), '', 'and it takes writes');
    await waitRows(u, other.port, [1, 20, 21], 'it keeps its rows');
    t.notOk((await getInstance(h, token, newSource.id)).replicas.some((r) => r.id === other.id), 'the source no longer lists it');
    t.match(leftover(h, newSource.id), new RegExp(`access of former replica ${other.id} could not be removed`), 'the access the source kept is recorded against it');
    // The source's agent comes back: still the source of its other replica, taking writes.
    restartAgent(h, newSource.id);
    let refused = '';
    const back = await waitFor('the source takes writes again', async () => (refused = await u.refusal(newSource.port, 30_001)) === '', 120_000).catch(() => false);
    t.ok(back, `the source takes writes again${refused ? ` (last refusal: ${refused})` : ''}`);
    if (!back) t.comment(diagnose(h, [newSource.id]));
    await waitRows(u, source.port, [30_001], 'its remaining replica follows it');
    t.notOk((await u.rows(other.port)).has(30_001), 'the detached replica does not');

    // Automatic failover: a replica added with auto_failover turns it on
    // for the set; then the source dies and no human acts.
    const added = await createReplicas(h, token, newSource.id, `af-${ds}`, 1, true);
    const r3 = await waitInstance(h, token, added.replicas[0]!.id, 'the added replica ACTIVE', isActive);
    await waitRows(u, r3.port, [30_001], 'the added replica caught up');
    t.ok((await getInstance(h, token, newSource.id)).autoFailover, 'the set has automatic failover');
    const members = [await getInstance(h, token, source.id), r3];
    const killed = Date.now();
    killInstance(h, newSource.id);
    let n = 40_000;
    const writable = await waitFor('a replica takes writes', async () => {
      for (const r of members) if ((await u.refusal(r.port, n++)) === '') return r;
      return false;
    }, 300_000);
    const ms = Date.now() - killed;
    t.comment(`automatic failover (${ds}): ${ms} ms from kill -9 of the source to the first accepted write on ${writable.name} (heartbeat expiry 3 s, grace 2 s)`);
    const failedOver = await waitInstance(h, token, writable.id, 'the new source ACTIVE', (i) => isActive(i) && !i.replicaOf);
    t.ok(failedOver.autoFailover, 'the flag moved to the new source');
    const rest = members.find((r) => r.id !== failedOver.id)!;
    const o2 = await waitInstance(h, token, rest.id, 'the other replica ACTIVE', isActive);
    t.equal(o2.replicaOf?.id, failedOver.id, 'the other replica follows the new source');
    t.equal((await getInstance(h, token, newSource.id)).replicaOf?.id, failedOver.id, 'the old source is recorded under the new one');
    await rejoins(t, h, token, u, newSource, failedOver, 50_000);
  });
}
