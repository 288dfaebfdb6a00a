// kill -9 of the control in the middle of an eject (the source's agent and
// datastore killed -9 first, as a crashed VM), then a restart on the same
// data dir: the set is consistent (test/support/replication-crash.ts: one
// writable source, every other member a replica of it or in ERROR with a
// fault), and the old source, its agent started again, rejoins as a replica
// of the new source and never takes a write. PostgreSQL is killed at every
// step of the eject, the other datastores at a sample; by default one eject
// is killed at each of them in turn (crashRounds). With a task per step
// (COFFER_CRASH_EACH=1) each round ejects the set's current source, so one
// set serves every round.
import t from 'tap';
import type { EjectReplicaSourceResponse } from '../../../../proto/gen/coffer/control/v1/instances.js';
import { ccall, startControl } from '../../../support/control.js';
import { waitFor } from '../../../support/agent.js';
import { createReplicas, createSource, DATASTORE_USERS, getInstance, isActive, killInstance, restartAgent, waitInstance, waitRows, type DatastoreUser } from '../../../support/replication.js';
import { agentsPerInstance, consistent, crashRounds, crashSteps, DATASTORES, killAtStep, taskEnded } from '../../../support/replication-crash.js';
import { ejectWorkflow } from '../../../../control/workflows/replication/eject.js';
import type { ControlContext } from '../../../../control/context.js';

t.setTimeout(40 * 60_000);
t.jobs = Number(process.env.COFFER_REPLICATION_JOBS ?? 2);

const stub = { config: { taskDeadlineMs: 60_000 } } as unknown as ControlContext;
const EJECT_STEPS = ejectWorkflow(stub).steps.map((s) => s.name);
// First; the promotion (after it nobody else may take over); the re-point
// of the other replica (AttachReplica, where PostgreSQL demotes); the last.
const EJECT_SAMPLE = ['positions', 'enable', 'repoint-replicas', 'records'];

for (const ds of DATASTORES) {
  const u = DATASTORE_USERS[ds]!;
  const steps = crashSteps(ds, EJECT_STEPS, EJECT_SAMPLE);
  const rounds = crashRounds(steps);

  t.test(`${ds}: kill -9 of the control at steps of an eject (${steps.join(', ') || 'none'})`, { buffered: true, skip: steps.length === 0 }, async (t) => {
    // A source is judged gone 3 s after its last heartbeat.
    const h = await startControl(t, { stepDelayMs: 500, heartbeatSeconds: 1, heartbeatExpirySeconds: 3 });
    const token = h.token('p1');
    const first = await createSource(h, token, u, `ej-${ds}`, 10);
    const created = await createReplicas(h, token, first.id, `ej-${ds}-r`, 2);
    await Promise.all(created.replicas.map((r) => waitInstance(h, token, r.id, `${r.name} ACTIVE`, isActive)));
    const ids = [first.id, ...created.replicas.map((r) => r.id)];
    let row = 3000;
    let source = first;

    for (const [n, kills] of rounds.entries()) {
      const started = Date.now();
      // The whole set ACTIVE and following the source before its VM "crashes".
      await waitFor('the whole set ACTIVE', async () => (await Promise.all(ids.map((id) => getInstance(h, token, id)))).every(isActive), 300_000);
      const acked = row++;
      t.ok(await u.write(source.port, acked), `${source.name} takes a write before it dies`);
      for (const id of ids.filter((x) => x !== source.id)) await waitRows(u, (await getInstance(h, token, id)).port, [acked], `replica ${id} has it`);

      const old = source;
      killInstance(h, old.id);
      // From now until it has rejoined, the old source is asked to take a
      // write again and again: it must refuse every one (no second writable source).
      const probe = writeProbe(u, old.port, 1_000_000 * (n + 1));
      await waitInstance(h, token, old.id, 'the source shows unreachable', (i) => !i.agentReachable, 60_000);
      const e = await ccall<EjectReplicaSourceResponse>(h.clients.instances, 'ejectReplicaSource', { id: old.id }, token);
      for (const step of kills) t.comment(`killed at ${step} (${await killAtStep(h, e.taskId, step)})`);
      t.comment(`the eject ended ${await taskEnded(h, e.taskId)}`);
      row += 10;
      const set = await consistent(t, h, token, u, ids, row);
      row += 10;
      t.not(set.source.id, old.id, 'a replica took over from the dead source');
      await waitRows(u, set.source.port, [acked], 'the new source has the write the old one acknowledged');

      // The restarted control starts the agents that should run (the local
      // driver's adopt); where it did not, the old source's agent is started here.
      if (!agentsPerInstance(h).get(old.id)) restartAgent(h, old.id);
      const back = await waitFor(`${old.name} rejoined`, async () => {
        const i = await getInstance(h, token, old.id);
        return isActive(i) && i.replicaOf?.id === set.source.id && i.role === 'replica' ? i : false;
      }, 300_000);
      const { accepted, tried } = await probe.stop();
      t.equal(accepted, 0, `${old.name} took no write from its kill until it rejoined (${tried} tried)`);
      t.equal(back.replicaOf?.id, set.source.id, `${old.name} is a replica of the new source`);
      await waitRows(u, old.port, [row - 10], `${old.name} follows the new source`);
      source = set.source;
      t.comment(`eject, killed at ${kills.join(', ')}: ${Date.now() - started} ms`);
    }
  });
}

/** Writes row after row to `port` until stopped; counts what the server accepted. */
function writeProbe(u: DatastoreUser, port: number, firstRow: number): { stop(): Promise<{ accepted: number; tried: number }> } {
  let stopped = false;
  let accepted = 0;
  let tried = 0;
  const loop = (async () => {
    while (!stopped) {
      if ((await u.refusal(port, firstRow + tried++)) === '') accepted++;
      // A refused connection answers at once: pace the attempts.
      await new Promise((r) => setTimeout(r, 300));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { accepted, tried };
    },
  };
}
