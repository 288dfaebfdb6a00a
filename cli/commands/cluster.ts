// coffer cluster create|list|show|watch|grow|shrink|delete|reset-status:
// clusters (MariaDB Galera, Redis Cluster) over coffer.control.v1.ClusterService.
// Create and grow follow the cluster's task live (WatchCluster: every
// member's InstallCluster progress and status) until its task is NONE.
import { Command } from 'commander';
import {
  ClusterTask,
  type Cluster,
  type ClusterMemberSpec,
  type CreateClusterResponse,
  type DeleteClusterResponse,
  type GetClusterResponse,
  type GrowClusterResponse,
  type ResetClusterStatusResponse,
  type ShrinkClusterResponse,
} from '../../proto/gen/coffer/control/v1/clusters.js';
import { InstanceStatus } from '../../proto/gen/coffer/control/v1/instances.js';
import { act, collect, type CommandContext } from '../context.js';
import type { Connection } from '../connection.js';
import { failed, usage } from '../errors.js';
import { allClusters, findCluster } from '../resolve.js';
import { CLUSTER_HEADERS, clusterFields, clusterJson, clusterRow, clusterTask, instanceStatus } from '../views.js';
import { followCluster } from '../watch.js';
import { groupId } from './configuration.js';

interface MemberOptions {
  count?: string;
  flavor?: string;
  size?: string;
  role?: string[];
}

interface CreateOptions extends MemberOptions {
  datastore?: string;
  datastoreVersion?: string;
  configuration?: string;
  wait: boolean;
}

const ROLES = ['master', 'replica'];

function whole(v: string | undefined, flag: string, min: number, max: number, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) throw usage(`${flag} must be a whole number from ${min} to ${max}, got "${v}"`);
  return n;
}

/**
 * The members to create: --count of --flavor and --size; --role (repeatable,
 * Redis Cluster) gives the members' roles in order, the rest masters.
 */
function members(o: MemberOptions, dfltCount: number): ClusterMemberSpec[] {
  const roles = o.role ?? [];
  const count = whole(o.count, '--count', 1, 64, Math.max(dfltCount, roles.length));
  if (roles.length > count) throw usage(`${roles.length} --role options for --count ${count}: give at most one --role per member`);
  for (const r of roles) if (!ROLES.includes(r)) throw usage(`--role must be master or replica (Redis Cluster), got "${r}"`);
  const volume = whole(o.size, '--size', 1, 16384, 0);
  return Array.from({ length: count }, (_x, i) => ({ flavorId: o.flavor ?? '', volumeSizeGb: volume, role: roles[i] ?? '', availabilityZone: '' }));
}

const getCluster = async (conn: Connection, id: string): Promise<Cluster | null> =>
  (await conn.unary<GetClusterResponse>((md, opts, cb) => conn.clusters.getCluster({ id }, md, opts, cb)).catch(() => ({ cluster: undefined }))).cluster ?? null;

const show = (ctx: CommandContext, c: Cluster): void => ctx.out.fields(clusterFields(c), clusterJson(c));

/** Follows the cluster's task to its end, shows the cluster, and fails unless every member is ACTIVE. */
async function settle(ctx: CommandContext, c: Cluster, taskId: string, title: string, doing: string): Promise<void> {
  const end = (await followCluster(ctx.conn, ctx.display(), c.id, taskId, title)) ?? (await getCluster(ctx.conn, c.id));
  if (!end) throw failed(`cluster ${c.name} was deleted while ${doing}`);
  show(ctx, end);
  const bad = end.instances.filter((i) => i.status !== InstanceStatus.INSTANCE_STATUS_ACTIVE);
  if (end.fault || bad.length || end.task !== ClusterTask.CLUSTER_TASK_NONE) {
    const why = [
      ...(end.fault ? [`step ${end.fault.step}: ${end.fault.message}`] : []),
      ...bad.map((i) => `${i.name} is ${instanceStatus(i)}${i.fault ? ` (step ${i.fault.step}: ${i.fault.message})` : ''}`),
      ...(end.task !== ClusterTask.CLUSTER_TASK_NONE ? [`its task is still ${clusterTask(end)}`] : []),
    ];
    throw failed(`cluster ${end.name} failed while ${doing}: ${why.join('; ')}`);
  }
}

async function create(ctx: CommandContext, name: string, o: CreateOptions): Promise<void> {
  const { conn } = ctx;
  if (!o.datastore) throw usage('--datastore is required: mariadb (Galera) or redis (Redis Cluster)');
  const req = { name, datastore: o.datastore, datastoreVersion: o.datastoreVersion ?? '', instances: members(o, 3), configurationId: o.configuration ? await groupId(conn, o.configuration) : '' };
  const r = await conn.unary<CreateClusterResponse>((md, opts, cb) => conn.clusters.createCluster(req, md, opts, cb));
  const c = r.cluster!;
  if (!o.wait) {
    show(ctx, c);
    if (!ctx.settings.json) ctx.out.note(`follow it with: coffer cluster watch ${c.id}`);
    return;
  }
  await settle(ctx, c, r.taskId, `creating cluster ${name} (${c.instances.length} members)`, 'being created');
}

async function grow(ctx: CommandContext, ref: string, o: MemberOptions & { wait: boolean }): Promise<void> {
  const { conn } = ctx;
  const c = await findCluster(conn, ref);
  const instances = members(o, 1);
  const r = await conn.unary<GrowClusterResponse>((md, opts, cb) => conn.clusters.growCluster({ id: c.id, instances }, md, opts, cb));
  if (!o.wait) {
    ctx.out.done(`cluster ${c.name} is growing by ${instances.length} (task ${r.taskId})`, { id: c.id, taskId: r.taskId });
    return;
  }
  await settle(ctx, r.cluster ?? c, r.taskId, `growing cluster ${c.name} by ${instances.length}`, 'growing');
}

async function shrink(ctx: CommandContext, ref: string, refs: string[], wait: boolean): Promise<void> {
  const { conn } = ctx;
  const c = await findCluster(conn, ref);
  // Members by id or name, among this cluster's own: another is refused here, naming it.
  const ids = refs.map((x) => {
    const m = c.instances.filter((i) => i.id === x || i.name === x);
    if (m.length !== 1) throw usage(`"${x}" is not a member of cluster ${c.name}; its members: ${c.instances.map((i) => i.name).join(', ')}`);
    return m[0]!.id;
  });
  const r = await conn.unary<ShrinkClusterResponse>((md, opts, cb) => conn.clusters.shrinkCluster({ id: c.id, instanceIds: ids }, md, opts, cb));
  if (!wait) {
    ctx.out.done(`cluster ${c.name} is shrinking by ${ids.length} (task ${r.taskId})`, { id: c.id, taskId: r.taskId });
    return;
  }
  await settle(ctx, c, r.taskId, `shrinking cluster ${c.name} by ${ids.length}`, 'shrinking');
}

export function clusterCommand(): Command {
  const cmd = new Command('cluster').description('clusters (MariaDB Galera, Redis Cluster): create, list, show, watch, grow, shrink, delete, reset-status');
  const memberOptions = (c: Command, count: string): Command =>
    c
      .option('--count <n>', `how many members (${count})`)
      .option('--flavor <id>', 'every member\'s flavor (see `coffer flavor list`; default: the smallest)')
      .option('--size <gb>', 'every member\'s volume size in GB (default 1)')
      .option('--role <role>', 'Redis Cluster: master or replica, one per member in order (repeatable; default master)', collect)
      .option('--no-wait', 'return once the task has started, without following its progress');

  memberOptions(
    cmd
      .command('create')
      .description('create a cluster and follow every member\'s progress until all are ACTIVE')
      .argument('<name>', 'a name for the cluster; its members are named NAME-member-1, -2, ...')
      .option('--datastore <name>', 'mariadb (Galera) or redis (Redis Cluster)')
      .option('--datastore-version <version>', 'default: the datastore\'s default version')
      .option('--configuration <group>', 'every member carries this configuration group (id or name; docs/configuration-groups.md)'),
    'default 3',
  ).action(act<CreateOptions>((ctx, args, o) => create(ctx, args[0] as string, o)));

  cmd
    .command('list')
    .description('list the clusters of your project')
    .action(
      act(async (ctx) => {
        const all = await allClusters(ctx.conn);
        ctx.out.table(CLUSTER_HEADERS, all.map(clusterRow), all.map(clusterJson), 'no clusters yet: create one with `coffer cluster create NAME --datastore mariadb`');
      }),
    );

  cmd
    .command('show')
    .description('show a cluster and its members')
    .argument('<cluster>', 'id or name')
    .action(act(async (ctx, args) => show(ctx, await findCluster(ctx.conn, args[0] as string))));

  cmd
    .command('watch')
    .description('follow a cluster\'s running task until it ends')
    .argument('<cluster>', 'id or name')
    .action(
      act(async (ctx, args) => {
        const c = await findCluster(ctx.conn, args[0] as string);
        await settle(ctx, c, c.taskId, `watching cluster ${c.name}`, 'being watched');
      }),
    );

  memberOptions(
    cmd.command('grow').description('add members; they copy their data from the running members').argument('<cluster>', 'id or name'),
    'default 1',
  ).action(act<MemberOptions & { wait: boolean }>((ctx, args, o) => grow(ctx, args[0] as string, o)));

  cmd
    .command('shrink')
    .description('remove members: they leave the cluster cleanly and are deleted')
    .argument('<cluster>', 'id or name')
    .argument('<instance...>', 'members to remove, by id or name')
    .option('--no-wait', 'return once the task has started')
    .action(act<{ wait: boolean }>((ctx, args, o) => shrink(ctx, args[0] as string, args[1] as string[], o.wait)));

  cmd
    .command('delete')
    .description('delete a cluster: every member\'s agent and datastore are stopped and their data removed')
    .argument('<cluster>', 'id or name')
    .option('--no-wait', 'return once the delete task has started')
    .action(
      act<{ wait: boolean }>(async (ctx, args, o) => {
        const { conn } = ctx;
        const c = await findCluster(conn, args[0] as string);
        const r = await conn.unary<DeleteClusterResponse>((md, opts, cb) => conn.clusters.deleteCluster({ id: c.id }, md, opts, cb));
        if (o.wait) {
          const end = await followCluster(conn, ctx.display(), c.id, r.taskId, `deleting cluster ${c.name}`);
          if (end && (await getCluster(conn, c.id))) throw failed(`deleting cluster ${c.name} did not finish: ${end.fault ? `step ${end.fault.step}: ${end.fault.message}` : `its task is ${clusterTask(end)}`}`);
        }
        ctx.out.done(o.wait ? `cluster ${c.name} (${c.id}) deleted` : `cluster ${c.name} (${c.id}) is being deleted (task ${r.taskId})`, {
          id: c.id,
          name: c.name,
          taskId: r.taskId,
          deleted: o.wait,
        });
      }),
    );

  cmd
    .command('reset-status')
    .description('clear a task left stuck: the cluster\'s task becomes NONE and members in BUILD go to ERROR')
    .argument('<cluster>', 'id or name')
    .action(
      act(async (ctx, args) => {
        const { conn } = ctx;
        const c = await findCluster(conn, args[0] as string);
        const r = await conn.unary<ResetClusterStatusResponse>((md, opts, cb) => conn.clusters.resetClusterStatus({ id: c.id }, md, opts, cb));
        show(ctx, r.cluster ?? c);
      }),
    );

  return cmd;
}
