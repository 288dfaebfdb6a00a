// The shrink workflow (docs/clusters.md, "Operation order"): LeaveCluster
// on each removed member (a clean stop: the others drop it from their view
// at once), SetClusterMembers with the remaining list on every remaining
// member, then the removed instances deleted (agent, datastore, directory,
// certificates, record) and the cluster's task NONE in one commit.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { allocationOf, type ControlContext } from '../../context.js';
import type { StepContext, Workflow } from '../../tasks/workflow.js';
import { leaveMember, liveCluster, liveMember, memberOf, setMembers } from './agent-steps.js';
import { activateMembers, endClusterTask, failClusterTask, releaseMembers } from './bookkeeping.js';

export interface ClusterShrinkData {
  clusterId: string;
  /** Members being removed. */
  removeIds: string[];
  /** Members that stay, in creation order. */
  keepIds: string[];
  /** Removed members that have left. */
  left: string[];
  /** Remaining members whose list was rewritten. */
  listed: string[];
}

type Ctx = StepContext<ClusterShrinkData>;

export function clusterShrinkWorkflow(c: ControlContext): Workflow<ClusterShrinkData> {
  return {
    kind: 'cluster-shrink',
    deadlineMs: c.config.taskDeadlineMs,
    steps: [
      {
        name: 'leave',
        async run(ctx: Ctx) {
          const d = ctx.data;
          const cluster = liveCluster(c, d.clusterId);
          for (const id of d.removeIds) {
            if (d.left.includes(id)) continue;
            const r = c.instances.get(id);
            if (r) await leaveMember(c, cluster, r);
            d.left.push(id);
            ctx.save();
          }
        },
      },
      {
        name: 'set-members',
        async run(ctx: Ctx) {
          const d = ctx.data;
          const cluster = liveCluster(c, d.clusterId);
          const members = d.keepIds.map((id) => memberOf(liveMember(c, id)));
          for (const id of d.keepIds) {
            if (d.listed.includes(id)) continue;
            await setMembers(c, cluster, liveMember(c, id), members);
            d.listed.push(id);
            ctx.save();
          }
        },
      },
      {
        name: 'delete-removed',
        async run(ctx: Ctx) {
          for (const id of ctx.data.removeIds) {
            const r = c.instances.get(id);
            if (r) await c.driver.delete(r.id, allocationOf(r));
          }
        },
      },
      {
        name: 'finish',
        commit(ctx: Ctx) {
          for (const id of ctx.data.removeIds) {
            rmSync(path.join(c.config.dataDir, 'certs', id), { recursive: true, force: true });
            c.instances.markDeleted(id);
            c.events.emit('instance', id);
          }
          activateMembers(c, ctx.data.keepIds);
          endClusterTask(c, ctx.data.clusterId);
        },
      },
    ],
    onFailed: (_task, data, step, message) => {
      releaseMembers(c, [...data.keepIds, ...data.removeIds], data.removeIds, step, message);
      failClusterTask(c, data.clusterId, step, message);
    },
  };
}
