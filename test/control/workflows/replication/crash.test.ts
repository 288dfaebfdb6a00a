// The replication workflows keep the task engine's promise: kill -9 of the
// control at each step of create-replicas and of a switchover (the step
// names come from the workflow definitions), then a restart on the same
// data dir, ends with a consistent set: one writable source, every other
// member a replica of it (refusing writes, following it) or in ERROR with a
// fault; one agent per instance; no task left running
// (test/support/replication-crash.ts). PostgreSQL is killed at every step,
// the other datastores at a sample (crashSteps); each datastore runs on one
// control and one source, the datastores in parallel. The eject's crash
// test is eject-crash.test.ts.
import t, { type Test } from 'tap';
import type { PromoteToReplicaSourceResponse } from '../../../../proto/gen/coffer/control/v1/instances.js';
import { ccall, startControl } from '../../../support/control.js';
import { waitFor } from '../../../support/agent.js';
import { createReplicas, createSource, DATASTORE_USERS, getInstance, isActive, waitInstance, waitRows } from '../../../support/replication.js';
import { consistent, crashRounds, crashSteps, DATASTORES, killAtStep, taskEnded } from '../../../support/replication-crash.js';
import { createReplicasWorkflow } from '../../../../control/workflows/replication/create-replicas.js';
import { switchoverWorkflow } from '../../../../control/workflows/replication/switchover.js';
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

const EACH = process.env.COFFER_CRASH_EACH === '1';

for (const ds of DATASTORES) {
  const u = DATASTORE_USERS[ds]!;
  // A task per step: the build round goes last, its two replicas stay for the switchovers.
  const createRounds = crashRounds(crashSteps(ds, CREATE_STEPS, CREATE_SAMPLE).sort((a, b) => (EACH ? Number(a === 'build') - Number(b === 'build') : 0)));
  const switchoverRounds = crashRounds(crashSteps(ds, SWITCHOVER_STEPS, SWITCHOVER_SAMPLE));
  const named = (r: string[][]): string => r.flat().join(', ') || 'none';

  t.test(`${ds}: kill -9 of the control at steps of create-replicas (${named(createRounds)}), then of a switchover (${named(switchoverRounds)})`, { buffered: true }, async (t) => {
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
    if (switchoverRounds.length === 0) return;

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
