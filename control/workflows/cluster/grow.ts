// The grow workflow (docs/clusters.md, "Operation order"): the new members
// built and Prepared (build-members.ts), SetClusterMembers with the full
// new list on every existing member (the option file, for its next start),
// then InstallCluster (no bootstrap) on each new member one at a time with
// the same list: it joins the running cluster and copies its data from a
// donor. CompleteCluster on the new members, then everyone ACTIVE and the
// cluster's task NONE in one commit.
import type { ControlContext } from '../../context.js';
import type { StepContext, Workflow } from '../../tasks/workflow.js';
import { scrubCreateData } from '../create.js';
import { completeMember, installMember, liveCluster, liveMember, memberOf, setMembers } from './agent-steps.js';
import { activateMembers, endClusterTask, failClusterTask, releaseMembers } from './bookkeeping.js';
import { buildMembers, type MemberBuilds } from './build-members.js';

export interface ClusterGrowData extends MemberBuilds {
  clusterId: string;
  /** The members before the grow, in creation order. */
  existingIds: string[];
  /** Existing members whose list was rewritten. */
  listed: string[];
  /** New members that serve in the cluster. */
  installed: string[];
}

type Ctx = StepContext<ClusterGrowData>;

export function clusterGrowWorkflow(c: ControlContext): Workflow<ClusterGrowData> {
  const newIds = (d: ClusterGrowData): string[] => d.builds.map((b) => b.instanceId);
  const fullList = (d: ClusterGrowData) => [...d.existingIds, ...newIds(d)].map((id) => memberOf(liveMember(c, id)));

  return {
    kind: 'cluster-grow',
    deadlineMs: c.config.taskDeadlineMs,
    steps: [
      { name: 'build-members', run: (ctx) => buildMembers(c, ctx) },
      {
        name: 'set-members',
        async run(ctx: Ctx) {
          const d = ctx.data;
          const cluster = liveCluster(c, d.clusterId);
          const members = fullList(d);
          for (const id of d.existingIds) {
            if (d.listed.includes(id)) continue;
            await setMembers(c, cluster, liveMember(c, id), members);
            d.listed.push(id);
            ctx.save();
          }
        },
      },
      {
        name: 'install-members',
        async run(ctx: Ctx) {
          const d = ctx.data;
          const cluster = liveCluster(c, d.clusterId);
          const members = fullList(d);
          for (const id of newIds(d)) {
            if (d.installed.includes(id)) continue;
            await installMember(c, cluster, liveMember(c, id), members, false, ctx.progress, ctx.signal);
            d.installed.push(id);
            ctx.save();
          }
        },
      },
      {
        name: 'complete',
        async run(ctx: Ctx) {
          const cluster = liveCluster(c, ctx.data.clusterId);
          for (const id of newIds(ctx.data)) await completeMember(c, cluster, liveMember(c, id));
        },
      },
      {
        name: 'activate',
        commit(ctx: Ctx) {
          activateMembers(c, [...ctx.data.existingIds, ...newIds(ctx.data)]);
          endClusterTask(c, ctx.data.clusterId);
        },
      },
    ],
    onFailed: (_task, data, step, message) => {
      // New members that did not join go to ERROR; the existing ones keep serving.
      releaseMembers(c, [...data.existingIds, ...newIds(data)], newIds(data), step, message);
      failClusterTask(c, data.clusterId, step, message);
    },
    scrub: (data) => ({ ...data, builds: data.builds.map(scrubCreateData) }),
  };
}
