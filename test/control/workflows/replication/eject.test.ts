// Losing the source, through the real control and agents: kill -9 of the
// source's agent and of its datastore (by pid), as a crashed VM.
// - eject: the operator ejects the source; the most advanced replica takes
//   writes, the other follows it; the old source's agent, started again,
//   comes back refusing writes and rejoins as a replica of the new source,
//   never a second writable source.
// - automatic failover: the same kill with auto_failover on the set, and no
//   human step; the time from the kill to the first write the new source
//   accepts is logged.
import t, { type Test } from 'tap';
import { InstanceStatus, type EjectReplicaSourceResponse, type Instance } from '../../../../proto/gen/coffer/control/v1/instances.js';
import { ccall, startControl, type ControlHarness } from '../../../support/control.js';
import { waitFor } from '../../../support/agent.js';
import { createReplicas, createSource, DATASTORE_USERS, getInstance, isActive, killInstance, restartAgent, waitInstance, waitRows, type DatastoreUser } from '../../../support/replication.js';

t.setTimeout(30 * 60_000);

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
 * After the old source's agent is started again: until the records say it
 * rejoined, every write it is asked to take is refused; then it follows
 * the new source.
 */
async function rejoins(t: Test, h: ControlHarness, token: string, u: DatastoreUser, old: Instance, newSource: Instance): Promise<void> {
  restartAgent(h, old.id);
  let attempts = 0;
  let accepted = 0;
  const back = await waitFor('the old source rejoined as a replica', async () => {
    const i = await getInstance(h, token, old.id);
    const refusal = await u.refusal(old.port, 500_000 + attempts++);
    if (refusal === '') accepted++;
    return isActive(i) && i.replicaOf?.id === newSource.id && i.role === 'replica' ? i : false;
  }, 300_000);
  t.equal(accepted, 0, `the old source took no write while it came back (${attempts} tried)`);
  t.equal(back.replicaOf?.id, newSource.id, 'it is a replica of the new source');
  t.ok(await u.write(newSource.port, 777), 'a write on the new source');
  await waitRows(u, old.port, [777], 'the old source follows the new source');
  t.not(await u.refusal(old.port, 778), '', 'the old source refuses writes as a replica');
}

for (const ds of DATASTORES) {
  const u = DATASTORE_USERS[ds]!;

  t.test(`${ds}: eject a dead source, then it rejoins`, async (t) => {
    const h = await startControl(t, HEARTBEAT);
    const token = h.token('p1');
    const { source, replicas } = await set(h, token, u, `ej-${ds}`, false);

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

    t.ok(await u.write(newSource.port, 21), 'the new source takes writes');
    await waitRows(u, o.port, [1, 20, 21], 'the other replica has the old rows and the new one');
    await rejoins(t, h, token, u, source, newSource);
  });

  t.test(`${ds}: automatic failover`, async (t) => {
    const h = await startControl(t, { ...HEARTBEAT, extraArgs: ['--failover-grace-seconds', '2'] });
    const token = h.token('p1');
    const { source, replicas } = await set(h, token, u, `af-${ds}`, true);
    t.ok(source.autoFailover, 'the set has automatic failover');

    const killed = Date.now();
    killInstance(h, source.id);
    let n = 100;
    const writable = await waitFor('a replica takes writes', async () => {
      for (const r of replicas) if ((await u.refusal(r.port, n++)) === '') return r;
      return false;
    }, 300_000);
    const ms = Date.now() - killed;
    t.comment(`automatic failover (${ds}): ${ms} ms from kill -9 of the source to the first accepted write on ${writable.name} (heartbeat expiry 3 s, grace 2 s)`);
    const newSource = await waitInstance(h, token, writable.id, 'the new source ACTIVE', (i) => isActive(i) && !i.replicaOf);
    t.ok(newSource.autoFailover, 'the flag moved to the new source');
    const other = replicas.find((r) => r.id !== newSource.id)!;
    const o = await waitInstance(h, token, other.id, 'the other replica ACTIVE', isActive);
    t.equal(o.replicaOf?.id, newSource.id, 'the other replica follows the new source');
    t.equal((await getInstance(h, token, source.id)).replicaOf?.id, newSource.id, 'the old source is recorded under the new one');
    await rejoins(t, h, token, u, source, newSource);
  });
}
