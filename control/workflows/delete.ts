// The delete workflow: stop the agent (it stops its datastore) and remove
// what the driver allocated, then the record and the certificate. A
// replica's access on its source goes first, best effort: a source that
// does not answer is recorded with a fault and does not hold the delete.
// (Deleting a source that still has replicas is refused by the service.)
import { rmSync } from 'node:fs';
import path from 'node:path';
import { allocationOf, type ControlContext } from '../context.js';
import type { Workflow } from '../tasks/workflow.js';
import { failInstance } from './common.js';
import { removeAccessBestEffort } from './replication/detach.js';

export interface DeleteData {
  instanceId: string;
  /** For a replica: '' once its source dropped its access, else why it did not. */
  accessLeft?: string;
}

export function deleteWorkflow(c: ControlContext): Workflow<DeleteData> {
  return {
    kind: 'delete',
    deadlineMs: c.config.taskDeadlineMs,
    steps: [
      {
        name: 'delete-compute',
        async run(ctx) {
          const row = c.instances.get(ctx.data.instanceId);
          if (!row) return;
          if (row.replica_of && ctx.data.accessLeft === undefined) {
            ctx.data.accessLeft = await removeAccessBestEffort(c, row.replica_of, row.id);
            if (ctx.data.accessLeft) c.instances.addFault(row.replica_of, 'delete-replica', `the access of deleted replica ${row.id} could not be removed: ${ctx.data.accessLeft}`);
            ctx.save();
          }
          await c.driver.delete(row.id, allocationOf(row));
        },
      },
      {
        name: 'remove-record',
        commit(ctx) {
          rmSync(path.join(c.config.dataDir, 'certs', ctx.data.instanceId), { recursive: true, force: true });
          c.instances.markDeleted(ctx.data.instanceId);
          c.events.emit('instance', ctx.data.instanceId);
        },
      },
    ],
    onFailed: (_task, data, step, message) => failInstance(c, data.instanceId, step, message),
  };
}
