// The replication workflows keep the task engine's promise: kill -9 of the
// control at the steps of create-replicas, of a switchover and of an eject
// (the step names come from the workflow definitions), then a restart on
// the same data dir, ends with a consistent set: one writable source, every
// other member a replica of it (refusing writes, following it) or in ERROR
// with a fault; one agent per instance; no task left running
// (test/support/replication-crash.ts). For the eject, the source's agent
// and datastore are killed -9 first, and the old source takes no write
// until it has rejoined. PostgreSQL is killed at every step, the other
// datastores at a sample (crashSteps); by default one task of each workflow
// is killed at each chosen step in turn (crashRounds). Each datastore runs
// on one control and one set, the datastores in parallel.
import t, { type Test } from 'tap';
import type { EjectReplicaSourceResponse, PromoteToReplicaSourceResponse } from '../../../../proto/gen/coffer/control/v1/instances.js';
import { ccall, startControl } from '../../../support/control.js';
import { waitFor } from '../../../support/agent.js';
import { createReplicas, createSource, DATASTORE_USERS, getInstance, isActive, killInstance, restartAgent, waitInstance, waitRows, takesWrite } from '../../../support/replication.js';
import { agentsPerInstance, consistent, crashRounds, crashSteps, DATASTORES, killAtStep, taskEnded, writeProbe } from '../../../support/replication-crash.js';
import { createReplicasWorkflow } from '../../../../control/workflows/replication/create-replicas.js';
import { switchoverWorkflow } from '../../../../control/workflows/replication/switchover.js';
import { ejectWorkflow } from '../../../../control/workflows/replication/eject.js';
import type { ControlContext } from '../../../../control/context.js';

t.setTimeout(40 * 60_000);
t.jobs = Number(process.env.COFFER_REPLICATION_JOBS ?? 2);

const stub = { config: { taskDeadlineMs: 60_000 } } as unknown as ControlContext;
const CREATE_STEPS = createReplicasWorkflow(stub).steps.map((s) => s.name);
const SWITCHOVER_STEPS = switchoverWorkflow(stub).steps.map((s) => s.name);
// First, middle (and the parallel builds), last.
const CREATE_SAMPLE = ['snapshot', 'build', 'activate'];
// First; the per-replica accounts (MariaDB's secret is per replica); the
// re-point (AttachReplica, where PostgreSQL demotes); the last.
const SWITCHOVER_SAMPLE = ['source-read-only', 'access', 'repoint-replicas', 'records'];
const EJECT_STEPS = ejectWorkflow(stub).steps.map((s) => s.name);
// First; the promotion (after it nobody else may take over); the re-point
// of the other replica (AttachReplica, where PostgreSQL demotes); the last.
const EJECT_SAMPLE = ['positions', 'enable', 'repoint-replicas', 'records'];

const EACH = process.env.COFFER_CRASH_EACH === '1';

for (const ds of DATASTORES) {
  const u = DATASTORE_USERS[ds]!;
  // A task per step: the build round goes last, its two replicas stay for the switchovers.
  const createRounds = crashRounds(crashSteps(ds, CREATE_STEPS, CREATE_SAMPLE).sort((a, b) => (EACH ? Number(a === 'build') - Number(b === 'build') : 0)));
  const switchoverRounds = crashRounds(crashSteps(ds, SWITCHOVER_STEPS, SWITCHOVER_SAMPLE));
  const ejectRounds = crashRounds(crashSteps(ds, EJECT_STEPS, EJECT_SAMPLE));
  const named = (r: string[][]): string => r.flat().join(', ') || 'none';

  t.test(`${ds}: kill -9 of the control at steps of create-replicas (${named(createRounds)}), of a switchover (${named(switchoverRounds)}), of an eject (${named(ejectRounds)})`, { buffered: true }, async (t) => {
    const h = await startControl(t, { stepDelayMs: 500 });
    const token = h.token('p1');
    const source = await createSource(h, token, u, `crash-${ds}`, 10);
    let row = 1000;
    const lap = timer(t);

    // create-replicas: two replicas, built in parallel and killed at each
    // step (crashRounds); with a task per step, one replica per round but
    // the last.
    let kept: string[] = [];
    for (const [n, steps] of createRounds.entries()) {
      const keep = n === createRounds.length - 1;
      const created = await createReplicas(h, token, source.id, `r-${steps[0]}`, keep ? 2 : 1);
      for (const step of steps) t.comment(`killed at ${step} (${await killAtStep(h, created.taskId, step)})`);
      t.comment(`the task ended ${await taskEnded(h, created.taskId)}`);
      const ids = [source.id, ...(await getInstance(h, token, source.id)).replicas.map((r) => r.id)];
      const { replicas } = await consistent(t, h, token, u, ids, row);
      row += 10;
      for (const r of created.replicas) {
        const i = await getInstance(h, token, r.id);
        t.ok(isActive(i), `${i.name} ended ACTIVE after kills at ${steps.join(', ')}`);
        if (isActive(i)) await waitRows(u, i.port, [1, 10], `${i.name} holds the source's rows`);
      }
      t.equal(replicas.length, created.replicas.length, 'the new replicas serve');
      lap(`create-replicas, killed at ${steps.join(', ')}`);
      if (keep) {
        kept = created.replicas.map((r) => r.id);
        continue;
      }
      // The replicas go again (deleting them drops their access).
      for (const r of created.replicas) await ccall(h.clients.instances, 'deleteInstance', { id: r.id }, token);
      await waitFor('the replicas deleted', async () => (await getInstance(h, token, source.id)).replicas.length === 0, 120_000);
    }
    if (switchoverRounds.length === 0 && ejectRounds.length === 0) return;

    // Switchovers on the same set: the source and the two kept replicas.
    if (kept.length < 2) {
      kept = (await createReplicas(h, token, source.id, 'sw-r', 2)).replicas.map((r) => r.id);
      await Promise.all(kept.map((id) => waitInstance(h, token, id, `replica ${id} ACTIVE`, isActive)));
    }
    const ids = [source.id, ...kept];
    let set = await consistent(t, h, token, u, ids, row++);
    for (const steps of switchoverRounds) {
      // Fenced members rejoin on their own; a switchover needs the whole set ACTIVE.
      await waitFor('the whole set ACTIVE', async () => (await Promise.all(ids.map((id) => getInstance(h, token, id)))).every(isActive), 300_000);
      const candidate = set.replicas[0]!;
      const p = await ccall<PromoteToReplicaSourceResponse>(h.clients.instances, 'promoteToReplicaSource', { id: candidate.id }, token);
      for (const step of steps) t.comment(`killed at ${step} (${await killAtStep(h, p.taskId, step)})`);
      const ended = await taskEnded(h, p.taskId);
      t.comment(`the switchover ended ${ended}`);
      row += 10;
      set = await consistent(t, h, token, u, ids, row);
      if (ended === 'SUCCEEDED') t.equal(set.source.id, candidate.id, `the promoted ${candidate.name} is the source`);
      lap(`switchover, killed at ${steps.join(', ')}`);
    }

    // Ejects on the same set: its source's agent and datastore killed -9
    // (a crashed VM; the control judges it gone 3 s after its last
    // heartbeat), then the control killed at the eject's steps. After the
    // restart the set is consistent, and the old source takes no write
    // until it has rejoined as a replica of the new one.
    for (const kills of ejectRounds) {
      await waitFor('the whole set ACTIVE', async () => (await Promise.all(ids.map((id) => getInstance(h, token, id)))).every(isActive), 300_000);
      const old = set.source;
      row += 10;
      const acked = row;
      await takesWrite(t, u, old.port, acked, `${old.name} takes a write before it dies`);
      for (const id of ids.filter((x) => x !== old.id)) await waitRows(u, (await getInstance(h, token, id)).port, [acked], `replica ${id} has it`);
      killInstance(h, old.id);
      const probe = writeProbe(u, old.port, 1_000_000 + row * 1000);
      await waitInstance(h, token, old.id, `${old.name} shows unreachable`, (i) => !i.agentReachable, 60_000);
      const e = await ccall<EjectReplicaSourceResponse>(h.clients.instances, 'ejectReplicaSource', { id: old.id }, token);
      for (const step of kills) t.comment(`killed at ${step} (${await killAtStep(h, e.taskId, step)})`);
      t.comment(`the eject ended ${await taskEnded(h, e.taskId)}`);
      row += 10;
      set = await consistent(t, h, token, u, ids, row);
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
      await waitRows(u, old.port, [row], `${old.name} follows the new source`);
      lap(`eject, killed at ${kills.join(', ')}`);
    }
  });
}

/** Logs how long each round took (the suite's time is watched). */
function timer(t: Test): (what: string) => void {
  let last = Date.now();
  return (what) => {
    t.comment(`${what}: ${Date.now() - last} ms`);
    last = Date.now();
  };
}
