// The detach workflow: the replica stops following for good (standalone and
// writable); its source drops the replica's access. An unreachable source
// does not hold the detach: the access it keeps is recorded as a fault on
// the source (the account cannot be used without the secret the control
// derives, and a PostgreSQL slot left behind shows in the source's status).
import type { ControlContext } from '../../context.js';
import type { Workflow } from '../../tasks/workflow.js';
import { failInstance } from '../common.js';
import { detach, liveRow, removeAccess } from './agent-steps.js';

export interface DetachData {
  replicaId: string;
  sourceId: string;
  /** Why the source could not drop the replica's access ('' when it did). */
  accessLeft?: string;
}

export function detachWorkflow(c: ControlContext): Workflow<DetachData> {
  return {
    kind: 'detach',
    deadlineMs: c.config.taskDeadlineMs,
    steps: [
      {
        name: 'detach',
        async run(ctx) {
          await detach(c, liveRow(c, ctx.data.replicaId));
        },
      },
      {
        name: 'remove-access',
        async run(ctx) {
          if (ctx.data.accessLeft !== undefined) return;
          ctx.data.accessLeft = await removeAccessBestEffort(c, ctx.data.sourceId, ctx.data.replicaId);
        },
      },
      {
        name: 'records',
        commit(ctx) {
          const d = ctx.data;
          c.instances.update(d.replicaId, { status: 'ACTIVE', task_id: null, replica_of: null, fenced: 0 });
          if (d.accessLeft) c.instances.addFault(d.sourceId, 'detach', `the access of former replica ${d.replicaId} could not be removed: ${d.accessLeft}`);
          c.events.emit('instance', d.replicaId);
          c.events.emit('instance', d.sourceId);
        },
      },
    ],
    onFailed: (_task, data, step, message) => failInstance(c, data.replicaId, step, message),
  };
}

/** Drops a replica's access on its source; '' when done (or nothing to do), else why not. */
export async function removeAccessBestEffort(c: ControlContext, sourceId: string, replicaId: string): Promise<string> {
  const source = c.instances.get(sourceId);
  if (!source) return '';
  try {
    await removeAccess(c, source, replicaId);
    return '';
  } catch (err) {
    const why = (err as { details?: string }).details ?? (err as Error).message;
    c.log.warn({ source: sourceId, replica: replicaId, err: why }, 'the source did not drop the replica\'s access');
    return why;
  }
}
