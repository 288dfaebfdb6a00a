// The resize-volume workflow. A VM driver grows the instance's disk first
// (the qemu driver: QMP block_resize, live); the agent then grows its
// filesystem online. The local driver has no volumes, so there growing the
// volume is recording the new size and ResizeFilesystem is a no-op on a
// plain directory.
import { agentCall } from '../agent-client.js';
import { allocationOf, withAgent, type ControlContext } from '../context.js';
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
        name: 'resize-volume',
        async run(ctx) {
          const row = c.instances.get(ctx.data.instanceId);
          if (!row) throw new PermanentStepError('the instance was deleted');
          const a = allocationOf(row);
          if (a && c.driver.resizeVolume) await c.driver.resizeVolume(row.id, a, ctx.data.volumeGb);
        },
      },
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
