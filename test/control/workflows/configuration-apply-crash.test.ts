// The configuration-apply task keeps the task engine's promise: kill -9 of
// the control while it applies a group to two attached Redis instances (the
// workflow's steps, named from its definition), then a restart on the same
// data dir, ends with the task SUCCEEDED, each instance running the group's
// new values and showing them applied, one agent per instance and no task
// left running. Killed once at the attach of the first instance and once at
// a change of the group that re-applies to both, each time with the apply
// step waiting on an agent (stopped with SIGSTOP, a fault injected so the
// kill lands inside the step, and continued before the restart).
import t from 'tap';
import { credentials } from '@grpc/grpc-js';
import {
  AttachConfigurationRequest,
  ConfigurationServiceClient,
  CreateConfigurationRequest,
  GetConfigurationRequest,
  GetInstanceConfigurationRequest,
  UpdateConfigurationRequest,
  type AttachConfigurationResponse,
  type CreateConfigurationResponse,
  type GetConfigurationResponse,
  type GetInstanceConfigurationResponse,
  type UpdateConfigurationResponse,
} from '../../../proto/gen/coffer/control/v1/configurations.js';
import { CreateInstanceRequest, type CreateInstanceResponse } from '../../../proto/gen/coffer/control/v1/instances.js';
import { ccall, startControl } from '../../support/control.js';
import { holdProcess } from '../../support/hold.js';
import { getInstance, isActive, waitInstance } from '../../support/replication.js';
import { agentPidOf, agentsPerInstance, killAtStep, taskEnded } from '../../support/replication-crash.js';
import { configurationApplyWorkflow } from '../../../control/workflows/configuration-apply.js';
import type { ControlContext } from '../../../control/context.js';

const stub = { config: { taskDeadlineMs: 60_000 } } as unknown as ControlContext;
const STEPS = configurationApplyWorkflow(stub).steps.map((s) => s.name);

t.test(`kill -9 of the control inside configuration-apply (${STEPS.join(', ')}; an agent held by SIGSTOP): the values reach every instance`, async (t) => {
  const h = await startControl(t);
  const token = h.token('p1');
  const groups = new ConfigurationServiceClient(h.address, credentials.createInsecure());
  t.teardown(() => groups.close());

  const created = await Promise.all(['r1', 'r2'].map((name) =>
    ccall<CreateInstanceResponse>(h.clients.instances, 'createInstance', CreateInstanceRequest.fromPartial({ name, datastore: 'redis' }), token)));
  const ids = created.map((c) => c.instance!.id);
  await Promise.all(ids.map((id) => waitInstance(h, token, id, `${id} ACTIVE`, isActive)));
  const group = (await ccall<CreateConfigurationResponse>(groups, 'createConfiguration', CreateConfigurationRequest.fromPartial({ name: 'caches', datastore: 'redis', values: { 'maxmemory-policy': 'allkeys-lru' } }), token)).configuration!;

  const valuesOf = async (id: string) => (await ccall<GetInstanceConfigurationResponse>(groups, 'getInstanceConfiguration', GetInstanceConfigurationRequest.fromPartial({ instanceId: id }), token)).values;
  const outcomes = async () => Object.fromEntries(((await ccall<GetConfigurationResponse>(groups, 'getConfiguration', GetConfigurationRequest.fromPartial({ id: group.id }), token)).configuration!.instances).map((i) => [i.id, i.state]));
  // The apply step may end before a kill timed by polling lands in it: the
  // agent of the held instance is stopped (SIGSTOP) before the task starts,
  // so the step waits on it when the control is killed, and goes on
  // (SIGCONT) before the control starts again.
  const hold = (id: string) => holdProcess(t, agentPidOf(h, id));
  const settled = async (taskId: string, step: string, values: Record<string, string>, attached: string[], release: () => void) => {
    const at = await killAtStep(h, taskId, step, { afterKill: release });
    t.equal(at, 'task RUNNING, step running', `the control was killed inside ${step}, the task running`);
    t.equal(await taskEnded(h, taskId), 'SUCCEEDED', `the task resumed after the restart and SUCCEEDED (killed at ${step})`);
    const shown = await outcomes();
    for (const id of attached) {
      const v = await valuesOf(id);
      for (const [k, want] of Object.entries(values)) t.equal(v[k], want, `${id}: ${k} is ${want} in the running server`);
      t.equal(shown[id], 'applied', `${id} shows the group applied`);
      t.ok(isActive(await getInstance(h, token, id)), `${id} is ACTIVE`);
    }
    const agents = agentsPerInstance(h);
    t.ok(ids.every((id) => agents.get(id) === 1), 'one agent per instance');
  };

  for (const id of ids) {
    const release = id === ids[0] ? hold(id) : undefined;
    const attach = await ccall<AttachConfigurationResponse>(groups, 'attachConfiguration', AttachConfigurationRequest.fromPartial({ instanceId: id, configurationId: group.id }), token);
    if (release) await settled(attach.taskId, STEPS[0]!, { 'maxmemory-policy': 'allkeys-lru' }, [id], release);
    else t.equal(await taskEnded(h, attach.taskId), 'SUCCEEDED', 'the second attach');
  }
  for (const step of STEPS) {
    // The second instance held: the first is applied before the kill, the second after the restart.
    const release = hold(ids[1]!);
    const changed = await ccall<UpdateConfigurationResponse>(groups, 'updateConfiguration', UpdateConfigurationRequest.fromPartial({ id: group.id, values: { 'maxmemory-policy': 'volatile-ttl', hz: '25' } }), token);
    t.ok(changed.taskId, 'a change of the group starts a re-apply task');
    await settled(changed.taskId, step, { 'maxmemory-policy': 'volatile-ttl', hz: '25' }, ids, release);
  }
});
