// The restart workflow: the agent restarts its datastore; the instance is
// REBOOT meanwhile and ACTIVE after.
import type { RestartResponse } from '../../proto/gen/coffer/agent/v1/lifecycle.js';
import { agentCall } from '../agent-client.js';
import { withAgent, type ControlContext } from '../context.js';
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
          await withAgent(c, row, (a) => agentCall<RestartResponse>(a.lifecycle, 'restart', {}, 300_000));
        },
      },
      {
        name: 'activate',
        commit(ctx) {
          c.instances.update(ctx.data.instanceId, { status: 'ACTIVE', task_id: null });
          c.events.emit('instance', ctx.data.instanceId);
        },
      },
    ],
    onFailed: (_task, data, step, message) => failInstance(c, data.instanceId, step, message),
  };
}
