// The control keeps its promises across its own kill -9: a create killed at
// a step resumes when the control starts again and ends ACTIVE (or ERROR with
// a fault), never stuck in BUILD; agents outlive the control and are
// re-adopted; a task past its deadline leaves ERROR with a fault naming the step.
import t, { type Test } from 'tap';
import { collect, waitFor } from '../support/agent.js';
import { mariadb } from '../support/mariadb-client.js';
import { agentPids, ccall, cstream, startControl, type ControlHarness } from '../support/control.js';
import { CreateInstanceRequest, InstanceStatus, type CreateInstanceResponse, type GetInstanceResponse, type Instance, type WatchInstanceResponse } from '../../proto/gen/coffer/control/v1/instances.js';
import type { GetTaskResponse, WatchTaskResponse } from '../../proto/gen/coffer/control/v1/tasks.js';

const REQUEST = CreateInstanceRequest.fromPartial({
  name: 'resilient',
  databases: [{ name: 'app' }],
  users: [{ name: 'app', host: '%', password: 'App-pass-1', databases: ['app'] }],
});

/**
 * Resolves once the agent relays progress of its own for `step` of the task
 * (a phase other than the engine's step, done and failed): the agent is at
 * work on it.
 */
function untilAgentWorks(control: ControlHarness, token: string, taskId: string, step: string, timeoutMs = 60_000): Promise<void> {
  const stream = cstream<WatchTaskResponse>(control.clients.tasks, 'watchTask', { id: taskId }, token);
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the agent relayed no progress for ${step} in ${timeoutMs} ms`)), timeoutMs);
    const end = (err?: Error): void => {
      clearTimeout(timer);
      stream.removeAllListeners();
      stream.on('error', () => undefined);
      stream.cancel();
      if (err) reject(err);
      else resolve();
    };
    stream.on('data', (m: WatchTaskResponse) => {
      const p = m.progress;
      if (p && p.step === step && !['step', 'done', 'failed'].includes(p.phase)) end();
    });
    stream.on('error', (err: Error) => end(err));
    stream.on('end', () => end(new Error(`the task ended before the agent worked on ${step}`)));
  });
}

/** Kills the control once the task is at `step` ('start') or once the agent works on it ('agent-working'), and starts it again. */
async function createAndKillAt(t: Test, control: ControlHarness, token: string, step: string, point: 'start' | 'agent-working'): Promise<Instance> {
  const created = await ccall<CreateInstanceResponse>(control.clients.instances, 'createInstance', REQUEST, token);
  if (point === 'agent-working') {
    await untilAgentWorks(control, token, created.taskId, step);
  } else {
    await waitFor(`the create task to reach ${step}`, async () => {
      const r = await ccall<GetTaskResponse>(control.clients.tasks, 'getTask', { id: created.taskId }, token);
      return r.task!.currentStep === step;
    }, 60_000);
  }
  await control.kill('SIGKILL');
  await control.start();
  const events = await collect<WatchInstanceResponse>(cstream(control.clients.instances, 'watchInstance', { id: created.instance!.id }, token));
  return events.filter((e) => e.instance).at(-1)!.instance!;
}

function endsActiveOrFaulted(t: Test, i: Instance, what: string): void {
  t.ok([InstanceStatus.INSTANCE_STATUS_ACTIVE, InstanceStatus.INSTANCE_STATUS_ERROR].includes(i.status), `${what}: ACTIVE or ERROR, not BUILD`);
  if (i.status === InstanceStatus.INSTANCE_STATUS_ERROR) t.ok(i.fault?.step && i.fault.message, `${what}: the ERROR has a fault (${i.fault?.step}: ${i.fault?.message})`);
}

t.test('kill -9 of the control during create, at two different steps', async (t) => {
  // The pause before each step keeps the task at a step long enough to be
  // seen at it: 500 ms, as test/control/crash-every-step.test.ts.
  const control = await startControl(t, { stepDelayMs: 500 });
  const token = control.token('ops');

  const a = await createAndKillAt(t, control, token, 'start-agent', 'start');
  endsActiveOrFaulted(t, a, 'killed while starting the agent');
  t.equal(a.status, InstanceStatus.INSTANCE_STATUS_ACTIVE, 'the resumed create finished');

  const b = await createAndKillAt(t, control, token, 'prepare', 'agent-working');
  endsActiveOrFaulted(t, b, 'killed during Prepare');
  t.equal(b.status, InstanceStatus.INSTANCE_STATUS_ACTIVE, 'the resumed Prepare finished');

  for (const i of [a, b]) {
    const q = await mariadb(i.port, 'app', 'App-pass-1', 'SELECT 1');
    t.equal(q.code, 0, `instance ${i.id} answers the mariadb client: ${q.stderr}`);
  }
  t.equal(agentPids(control.dataDir).length, 2, 'exactly one agent per instance (none started twice)');
});

t.test('agents outlive the control and are re-adopted', async (t) => {
  const control = await startControl(t, { heartbeatSeconds: 1, heartbeatExpirySeconds: 3 });
  const token = control.token('ops');
  const created = await ccall<CreateInstanceResponse>(control.clients.instances, 'createInstance', REQUEST, token);
  const id = created.instance!.id;
  await collect(cstream(control.clients.instances, 'watchInstance', { id }, token));
  const before = agentPids(control.dataDir);

  await control.kill('SIGKILL');
  t.same(agentPids(control.dataDir), before, 'the agent keeps running while the control is down');
  await control.start();
  t.same(agentPids(control.dataDir), before, 'the restarted control adopted it instead of starting another');
  const g = await waitFor('heartbeats to the new control', async () => {
    const r = await ccall<GetInstanceResponse>(control.clients.instances, 'getInstance', { id }, token);
    return r.instance!.agentReachable && r.instance!.agentLastSeenMs > Date.now() - 3000 ? r.instance : false;
  }, 20_000);
  t.equal(g!.status, InstanceStatus.INSTANCE_STATUS_ACTIVE, 'still ACTIVE');

  // Heartbeats that stop show the agent as unreachable after the expiry.
  for (const pid of agentPids(control.dataDir)) process.kill(pid, 'SIGSTOP');
  t.teardown(() => {
    for (const pid of before) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // gone
      }
    }
  });
  await waitFor('the agent to show unreachable', async () => {
    const r = await ccall<GetInstanceResponse>(control.clients.instances, 'getInstance', { id }, token);
    return !r.instance!.agentReachable;
  }, 15_000);
  t.pass('an agent whose heartbeats stopped shows as unreachable');
});

t.test('a task past its deadline leaves the instance in ERROR with a fault naming the step', async (t) => {
  const control = await startControl(t, { stepDelayMs: 2000, taskDeadlineSeconds: 3 });
  const token = control.token('ops');
  const created = await ccall<CreateInstanceResponse>(control.clients.instances, 'createInstance', REQUEST, token);
  const events = await collect<WatchInstanceResponse>(cstream(control.clients.instances, 'watchInstance', { id: created.instance!.id }, token));
  const last = events.filter((e) => e.instance).at(-1)!.instance!;
  t.equal(last.status, InstanceStatus.INSTANCE_STATUS_ERROR);
  t.match(last.fault?.step, /deadline/, 'the fault says the deadline passed');
  t.match(last.fault?.message, /step \S+ did not finish before the task deadline/, 'and names the step');
});
