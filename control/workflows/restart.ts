// The restart workflow: the agent restarts its datastore; the instance is
// REBOOT meanwhile and ACTIVE after. When the agent does not answer at all
// and the driver can power-cycle the instance (a VM), it reboots the VM
// instead and waits for its agent: the agent starts the datastore at boot.
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { RestartResponse } from '../../proto/gen/coffer/agent/v1/lifecycle.js';
import { agentCall } from '../agent-client.js';
import { allocationOf, withAgent, type ControlContext } from '../context.js';
import { statusErrorOf } from '../../lib/retryable.js';
import { waitForAgentBoot } from './agent-boot.js';
import { PermanentStepError, type Workflow } from '../tasks/workflow.js';
import { failInstance } from './common.js';

export interface RestartData {
  instanceId: string;
}

export function restartWorkflow(c: ControlContext): Workflow<RestartData> {
  return {
    kind: 'restart',
    deadlineMs: c.config.taskDeadlineMs,
    steps: [
      {
        name: 'restart-datastore',
        async run(ctx) {
          const row = c.instances.get(ctx.data.instanceId);
          if (!row) throw new PermanentStepError('the instance was deleted');
          try {
            await withAgent(c, row, (a) => agentCall<RestartResponse>(a.lifecycle, 'restart', {}, 300_000));
          } catch (err) {
            const a = allocationOf(row);
            if (!c.driver.restart || !a || statusErrorOf(err)?.code !== GrpcStatus.UNAVAILABLE) throw err;
            c.log.warn({ instanceId: row.id, err: (err as Error).message }, 'the agent does not answer; rebooting the instance');
            await c.driver.restart(row.id, a);
            await waitForAgentBoot(c, row, a, ctx.signal);
          }
        },
      },
      {
        name: 'activate',
        commit(ctx) {
          // The restart brought every configuration value into force.
          const row = c.instances.get(ctx.data.instanceId);
          const applied = row?.config_state === 'restart_required' ? { config_state: 'applied' } : {};
          c.instances.update(ctx.data.instanceId, { status: 'ACTIVE', task_id: null, restart_required: 0, ...applied });
          c.events.emit('instance', ctx.data.instanceId);
        },
      },
    ],
    onFailed: (_task, data, step, message) => failInstance(c, data.instanceId, step, message),
  };
}
