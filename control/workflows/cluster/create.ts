// The cluster-create workflow (docs/clusters.md, "Operation order"): every
// member built and Prepared in parallel (build-members.ts), then
// InstallCluster with bootstrap on the first member, then on each other
// member one at a time (a joiner copies its data from a donor, which is
// desynced while it gives it), CompleteCluster on every member, and the
// members ACTIVE with the cluster's task NONE in one commit.
//
// Resuming after a kill -9: built and installed members are recorded and
// skipped; InstallCluster on a member that serves only reports, and
// CompleteCluster is idempotent.
import type { ControlContext } from '../../context.js';
import type { StepContext, Workflow } from '../../tasks/workflow.js';
import { scrubCreateData } from '../create.js';
import { completeMember, installMember, liveCluster, liveMember, memberOf } from './agent-steps.js';
import { activateMembers, endClusterTask, failClusterTask, releaseMembers } from './bookkeeping.js';
import { buildMembers, type MemberBuilds } from './build-members.js';

export interface ClusterCreateData extends MemberBuilds {
  clusterId: string;
  /** Members that serve in the cluster (installed), in install order. */
  installed: string[];
}

type Ctx = StepContext<ClusterCreateData>;

export function clusterCreateWorkflow(c: ControlContext): Workflow<ClusterCreateData> {
  const ids = (d: ClusterCreateData): string[] => d.builds.map((b) => b.instanceId);

  const install = async (ctx: Ctx, which: 'bootstrap' | 'joiners'): Promise<void> => {
    const d = ctx.data;
    const cluster = liveCluster(c, d.clusterId);
    const rows = ids(d).map((id) => liveMember(c, id));
    const members = rows.map(memberOf);
    const targets = which === 'bootstrap' ? rows.slice(0, 1) : rows.slice(1);
    for (const r of targets) {
      if (d.installed.includes(r.id)) continue;
      await installMember(c, cluster, r, members, which === 'bootstrap', ctx.progress, ctx.signal);
      d.installed.push(r.id);
      ctx.save();
    }
  };

  return {
    kind: 'cluster-create',
    deadlineMs: c.config.taskDeadlineMs,
    steps: [
      { name: 'build-members', run: (ctx) => buildMembers(c, ctx) },
      { name: 'install-bootstrap', run: (ctx) => install(ctx, 'bootstrap') },
      { name: 'install-joiners', run: (ctx) => install(ctx, 'joiners') },
      {
        name: 'complete',
        async run(ctx) {
          const cluster = liveCluster(c, ctx.data.clusterId);
          for (const id of ids(ctx.data)) await completeMember(c, cluster, liveMember(c, id));
        },
      },
      {
        name: 'activate',
        commit(ctx) {
          activateMembers(c, ids(ctx.data));
          endClusterTask(c, ctx.data.clusterId);
        },
      },
    ],
    onFailed: (_task, data, step, message) => {
      releaseMembers(c, ids(data), ids(data), step, message);
      failClusterTask(c, data.clusterId, step, message);
    },
    scrub: (data) => ({ ...data, builds: data.builds.map(scrubCreateData) }),
  };
}
