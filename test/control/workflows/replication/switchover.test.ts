// Planned switchover (promote a replica) under a running write load, through
// the real control and agents: every write the client saw acknowledged is
// on the new source, the old source follows the new one and refuses writes,
// and the other replica follows the new source too.
import t from 'tap';
import { InstanceStatus, type PromoteToReplicaSourceResponse } from '../../../../proto/gen/coffer/control/v1/instances.js';
import { ccall, startControl } from '../../../support/control.js';
import { createReplicas, createSource, DATASTORE_USERS, getInstance, isActive, waitInstance, waitRows, takesWrite } from '../../../support/replication.js';

t.setTimeout(20 * 60_000);

const DATASTORES = (process.env.COFFER_REPLICATION_DATASTORES ?? 'mariadb,postgresql,redis').split(',');

for (const ds of DATASTORES) {
  const u = DATASTORE_USERS[ds]!;
  t.test(`${ds}: switchover under a write load`, async (t) => {
    const h = await startControl(t);
    const token = h.token('p1');
    const source = await createSource(h, token, u, `src-${ds}`, 10);
    const created = await createReplicas(h, token, source.id, `rep-${ds}`, 2);
    const [c, other] = await Promise.all(created.replicas.map((r) => waitInstance(h, token, r.id, `${r.name} ACTIVE`, isActive)));

    // The load: one client writing row after row to whichever instance it
    // believes is the source; it counts what the server acknowledged.
    const acked = new Set<number>();
    let refused = 0;
    let port = source.port;
    let stop = false;
    let next = 1000;
    const load = (async () => {
      while (!stop) {
        const i = next++;
        if (await u.write(port, i)) acked.add(i);
        else refused++;
      }
    })();
    await waitRows(u, c!.port, [1010], 'the load reaches the replica');

    const started = Date.now();
    const p = await ccall<PromoteToReplicaSourceResponse>(h.clients.instances, 'promoteToReplicaSource', { id: c!.id }, token);
    t.ok(p.taskId, 'the switchover started');
    const during = await getInstance(h, token, source.id);
    t.ok([InstanceStatus.INSTANCE_STATUS_PROMOTE, InstanceStatus.INSTANCE_STATUS_ACTIVE].includes(during.status), 'the set is PROMOTE while it runs');
    const promoted = await waitInstance(h, token, c!.id, 'the promoted replica ACTIVE as source', (i) => isActive(i) && !i.replicaOf, 300_000);
    t.comment(`switchover took ${Date.now() - started} ms; ${acked.size} writes acknowledged, ${refused} refused so far`);
    port = promoted.port;
    const before = next;
    await waitRows(u, promoted.port, [before + 5].map((x) => x), 'the load writes to the new source', 60_000).catch(() => undefined);
    stop = true;
    await load;

    const onNew = await u.rows(promoted.port);
    const lost = [...acked].filter((i) => !onNew.has(i));
    t.same(lost, [], `no acknowledged write is lost (${acked.size} acknowledged, ${refused} refused)`);

    const old = await waitInstance(h, token, source.id, 'the old source ACTIVE', isActive);
    t.equal(old.replicaOf?.id, promoted.id, 'the old source is a replica of the new one');
    t.equal(old.role, 'replica', 'and its agent says replica');
    const o2 = await waitInstance(h, token, other!.id, 'the other replica ACTIVE', isActive);
    t.equal(o2.replicaOf?.id, promoted.id, 'the other replica follows the new source');
    t.same((await getInstance(h, token, promoted.id)).replicas.map((r) => r.id).sort(), [source.id, other!.id].sort(), 'the new source lists both');

    await takesWrite(t, u, promoted.port, 99_999, 'the new source takes a write');
    await waitRows(u, old.port, [...acked, 99_999], 'the old source has every acknowledged write and follows the new source');
    await waitRows(u, other!.port, [...acked, 99_999], 'the other replica too');
    const refusal = await u.refusal(old.port, 100_000);
    t.not(refusal, '', `the old source refuses writes: ${refusal.split('\n')[0]}`);
  });
}
