// The resize-volume workflow. The local driver has no volumes, so growing
// the volume is recording the new size; the agent then grows its filesystem
// (a no-op on a plain directory). VM drivers grow a real volume first.
import { agentCall } from '../agent-client.js';
import { withAgent, type ControlContext } from '../context.js';
import { PermanentStepError, type Workflow } from '../tasks/workflow.js';
import { failInstance } from './common.js';

export interface ResizeData {
  instanceId: string;
  volumeGb: number;
}

export function resizeWorkflow(c: ControlContext): Workflow<ResizeData> {
  return {
    kind: 'resize',
    deadlineMs: c.config.taskDeadlineMs,
    steps: [
      {
        name: 'resize-filesystem',
        async run(ctx) {
          const row = c.instances.get(ctx.data.instanceId);
          if (!row) throw new PermanentStepError('the instance was deleted');
          await withAgent(c, row, (a) => agentCall(a.lifecycle, 'resizeFilesystem', {}, 300_000));
        },
      },
      {
        name: 'activate',
        commit(ctx) {
          c.instances.update(ctx.data.instanceId, { status: 'ACTIVE', task_id: null, volume_size_gb: ctx.data.volumeGb });
          c.events.emit('instance', ctx.data.instanceId);
        },
      },
    ],
    onFailed: (_task, data, step, message) => failInstance(c, data.instanceId, step, message),
  };
}
