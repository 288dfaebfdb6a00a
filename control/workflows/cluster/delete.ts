// The cluster-delete workflow: every member deleted (its agent stops its
// datastore; the driver removes what it allocated), then the members'
// records and certificates and the cluster's record, in one commit.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { allocationOf, type ControlContext } from '../../context.js';
import type { StepContext, Workflow } from '../../tasks/workflow.js';
import { failClusterTask, releaseMembers } from './bookkeeping.js';

export interface ClusterDeleteData {
  clusterId: string;
  memberIds: string[];
}

type Ctx = StepContext<ClusterDeleteData>;

export function clusterDeleteWorkflow(c: ControlContext): Workflow<ClusterDeleteData> {
  return {
    kind: 'cluster-delete',
    deadlineMs: c.config.taskDeadlineMs,
    steps: [
      {
        name: 'delete-members',
        async run(ctx: Ctx) {
          // In parallel: a member whose peers are gone stops as fast as any.
          await Promise.all(ctx.data.memberIds.map(async (id) => {
            const r = c.instances.get(id);
            if (r) await c.driver.delete(r.id, allocationOf(r));
          }));
        },
      },
      {
        name: 'remove-records',
        commit(ctx: Ctx) {
          for (const id of ctx.data.memberIds) {
            rmSync(path.join(c.config.dataDir, 'certs', id), { recursive: true, force: true });
            if (c.instances.get(id)) c.instances.markDeleted(id);
            c.events.emit('instance', id);
          }
          c.clusters.markDeleted(ctx.data.clusterId);
          c.events.emit('cluster', ctx.data.clusterId);
        },
      },
    ],
    onFailed: (_task, data, step, message) => {
      releaseMembers(c, data.memberIds, data.memberIds, step, message);
      failClusterTask(c, data.clusterId, step, message);
    },
  };
}
