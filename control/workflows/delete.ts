// The delete workflow: stop the agent (it stops its datastore) and remove
// what the driver allocated, then the record and the certificate.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { allocationOf, type ControlContext } from '../context.js';
import type { Workflow } from '../tasks/workflow.js';
import { failInstance } from './common.js';

export interface DeleteData {
  instanceId: string;
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
