// The rejoin workflow, started by the conductor when a fenced instance's
// agent reports in (an ejected source, or a member a failed switchover or
// eject could not re-point): the source its record names gives it access,
// its agent demotes it to a replica of that source (PostgreSQL: pg_rewind),
// and what it had that the source never received is recorded as a fault,
// not dropped silently. Then it is unfenced and ACTIVE.
import type { ControlContext } from '../../context.js';
import type { Workflow } from '../../tasks/workflow.js';
import { failInstance } from '../common.js';
import { addAccess, demote, liveRow } from './agent-steps.js';
import { sourceInfo, type AccessInfo } from './source-info.js';

export interface RejoinData {
  instanceId: string;
  sourceId: string;
  access?: AccessInfo;
  diverged?: string;
}

export function rejoinWorkflow(c: ControlContext): Workflow<RejoinData> {
  return {
    kind: 'rejoin',
    deadlineMs: c.config.taskDeadlineMs,
    steps: [
      {
        name: 'access',
        async run(ctx) {
          if (ctx.data.access) return;
          ctx.data.access = (await addAccess(c, liveRow(c, ctx.data.sourceId), [ctx.data.instanceId]))[0];
        },
      },
      {
        name: 'demote',
        async run(ctx) {
          if (ctx.data.diverged !== undefined) return;
          ctx.data.diverged = await demote(c, liveRow(c, ctx.data.instanceId), sourceInfo(c, liveRow(c, ctx.data.sourceId), ctx.data.access!));
        },
      },
      {
        name: 'records',
        commit(ctx) {
          const d = ctx.data;
          c.instances.update(d.instanceId, { status: 'ACTIVE', task_id: null, fenced: 0, replica_of: d.sourceId });
          if (d.diverged) {
            c.instances.addFault(d.instanceId, 'rejoin', `rejoined as a replica of ${d.sourceId}; transactions that never reached the new source were set aside: ${d.diverged}`);
          }
          c.events.emit('instance', d.instanceId);
        },
      },
    ],
    // Still fenced: the conductor tries again later (control/conductor/service.ts).
    onFailed: (_task, data, step, message) => failInstance(c, data.instanceId, `rejoin ${step}`, message),
  };
}
