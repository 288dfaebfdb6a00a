// coffer instance create|list|show|watch|delete|restart, and replication:
// create --replica-of, promote, eject, detach
import { Command } from 'commander';
import {
  CreateInstanceRequest,
  InstanceStatus,
  type CreateInstanceResponse,
  type DeleteInstanceResponse,
  type DetachReplicaResponse,
  type EjectReplicaSourceResponse,
  type GetInstanceResponse,
  type Instance,
  type PromoteToReplicaSourceResponse,
  type RestartInstanceResponse,
} from '../../proto/gen/coffer/control/v1/instances.js';
import { TaskState } from '../../proto/gen/coffer/control/v1/tasks.js';
import { act, collect, type CommandContext } from '../context.js';
import { failed, usage } from '../errors.js';
import { allInstances, findInstance, instanceId } from '../resolve.js';
import { groupId } from './configuration.js';
import { readPassword, readSecretFile } from '../secret-files.js';
import { followInstance, followTask } from '../watch.js';
import { INSTANCE_HEADERS, instanceFields, instanceJson, instanceRow, instanceStatus } from '../views.js';
import type { Connection } from '../connection.js';

interface CreateOptions {
  datastore?: string;
  datastoreVersion?: string;
  flavor?: string;
  size?: string;
  database?: string[];
  user?: string;
  userHost: string;
  passwordFile?: string;
  rootPasswordFile?: string;
  backup?: string;
  /** With backup: a restore to a point (docs/pitr.md). */
  restoreTime?: string;
  restoreLsn?: string;
  restoreGtid?: string;
  config?: string[];
  configuration?: string;
  replicaOf?: string;
  replicaCount?: string;
  /** undefined: the control's default. */
  autoFailover?: boolean;
  wait: boolean;
}

/** What a replica takes from its source: options that cannot go with --replica-of. */
const SOURCE_OPTIONS: ReadonlyArray<[keyof CreateOptions, string]> = [
  ['datastore', '--datastore'],
  ['datastoreVersion', '--datastore-version'],
  ['flavor', '--flavor'],
  ['size', '--size'],
  ['database', '--database'],
  ['user', '--user'],
  ['rootPasswordFile', '--root-password-file'],
  ['backup', '--backup'],
  ['restoreTime', '--restore-time'],
  ['restoreLsn', '--restore-lsn'],
  ['restoreGtid', '--restore-gtid'],
  ['config', '--config'],
  ['configuration', '--configuration'],
];

function overrides(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0) throw usage(`--config must be KEY=VALUE, got "${p}"`);
    out[p.slice(0, i)] = p.slice(i + 1);
  }
  return out;
}

/** Prints where a followed instance ended up; a failure is a non-zero exit. */
function settle(ctx: CommandContext, i: Instance | null, doing: string): void {
  if (!i) throw failed(`the instance was deleted while ${doing}`);
  ctx.out.fields(instanceFields(i), instanceJson(i));
  if (i.status === InstanceStatus.INSTANCE_STATUS_ERROR) {
    throw failed(`instance ${i.name} (${i.id}) went to ERROR while ${doing}: ${i.fault ? `step ${i.fault.step}: ${i.fault.message}` : 'no fault was recorded'}`);
  }
  // RESTART_REQUIRED is ACTIVE with configuration values waiting for a restart.
  if (i.status !== InstanceStatus.INSTANCE_STATUS_ACTIVE && i.status !== InstanceStatus.INSTANCE_STATUS_RESTART_REQUIRED) {
    throw failed(`instance ${i.name} is ${instanceStatus(i)}, not ACTIVE`);
  }
}

const getInstance = async (conn: Connection, id: string): Promise<Instance | null> =>
  (await conn.unary<GetInstanceResponse>((md, opts, cb) => conn.instances.getInstance({ id }, md, opts, cb)).catch(() => ({ instance: undefined }))).instance ?? null;

/** Creates replicas of --replica-of and follows the set's task until every replica is ACTIVE (or one failed). */
async function createReplicas(ctx: CommandContext, name: string, o: CreateOptions): Promise<void> {
  const { conn } = ctx;
  for (const [key, flag] of SOURCE_OPTIONS) {
    const v = o[key];
    if (v !== undefined && !(Array.isArray(v) && v.length === 0)) throw usage(`${flag} cannot be given with --replica-of: a replica takes its source's datastore, version, flavor, volume size and data`);
  }
  let count = 0;
  if (o.replicaCount !== undefined) {
    count = Number(o.replicaCount);
    if (!/^\d+$/.test(o.replicaCount) || count < 1 || count > 3) throw usage(`--replica-count must be 1, 2 or 3, got "${o.replicaCount}"`);
  }
  const source = await findInstance(conn, o.replicaOf!);
  const req = CreateInstanceRequest.fromPartial({ name, replicaOf: source.id, replicaCount: count, ...(o.autoFailover === undefined ? {} : { autoFailover: o.autoFailover }) });
  const r = await conn.unary<CreateInstanceResponse>((md, opts, cb) => conn.instances.createInstance(req, md, opts, cb));
  const replicas = r.replicas.length ? r.replicas : [r.instance!];
  const show = (list: Instance[]): void => {
    if (list.length === 1) ctx.out.fields(instanceFields(list[0]!), instanceJson(list[0]!));
    else ctx.out.table(INSTANCE_HEADERS, list.map(instanceRow), list.map(instanceJson));
  };
  if (!o.wait) {
    show(replicas);
    if (!ctx.settings.json) ctx.out.note(`follow them with: ${replicas.map((x) => `coffer instance watch ${x.id}`).join('; ')}`);
    return;
  }
  const what = replicas.length === 1 ? `replica ${replicas[0]!.name}` : `${replicas.length} replicas (${replicas.map((x) => x.name).join(', ')})`;
  const task = await followTask(conn, ctx.display(), r.taskId, `creating ${what} of ${source.name}`);
  const after = await Promise.all(replicas.map(async (x) => (await getInstance(conn, x.id)) ?? x));
  show(after);
  const bad = after.filter((x) => x.status !== InstanceStatus.INSTANCE_STATUS_ACTIVE);
  if (task?.state === TaskState.TASK_STATE_FAILED || bad.length) {
    const why = bad.map((x) => `${x.name} is ${instanceStatus(x)}${x.fault ? ` (step ${x.fault.step}: ${x.fault.message})` : ''}`).join('; ');
    throw failed(`creating ${what} failed: ${why || task?.error || `task ${r.taskId} failed`}`);
  }
}

/**
 * Promote, eject and detach: one call that starts a task on the set, then
 * the task followed to its end and the instance shown as it ended up.
 */
async function replicationAction(
  ctx: CommandContext,
  ref: string,
  wait: boolean,
  doing: string,
  call: (conn: Connection, id: string) => Promise<{ taskId: string }>,
): Promise<void> {
  const { conn } = ctx;
  const i = await findInstance(conn, ref);
  const { taskId } = await call(conn, i.id);
  if (!wait) {
    ctx.out.done(`${doing} ${i.name} (task ${taskId})`, { id: i.id, taskId });
    return;
  }
  const task = await followTask(conn, ctx.display(), taskId, `${doing} ${i.name}`);
  const end = await getInstance(conn, i.id);
  if (end) ctx.out.fields(instanceFields(end), instanceJson(end));
  if (task && task.state === TaskState.TASK_STATE_FAILED) throw failed(`${doing} ${i.name} failed: ${task.error}`);
}

async function create(ctx: CommandContext, name: string, o: CreateOptions): Promise<void> {
  if (o.replicaOf !== undefined) return createReplicas(ctx, name, o);
  if (o.replicaCount !== undefined || o.autoFailover !== undefined) throw usage('--replica-count and --auto-failover are for creating replicas: add --replica-of INSTANCE');
  const { conn } = ctx;
  const databases = o.database ?? [];
  const warn = (l: string) => ctx.out.note(l);
  let size = 0;
  if (o.size !== undefined) {
    size = Number(o.size);
    if (!Number.isInteger(size) || size < 1) throw usage(`--size must be a whole number of GB (1 or more), got "${o.size}"`);
  }
  if (o.passwordFile && !o.user) throw usage('--password-file is for the --user being created: add --user NAME');
  const users = o.user
    ? [{ name: o.user, host: o.userHost, password: await readPassword({ file: o.passwordFile, what: `user ${o.user}`, warn }), databases, rules: [] }]
    : [];
  const req = CreateInstanceRequest.fromPartial({
    name,
    datastore: o.datastore ?? '',
    datastoreVersion: o.datastoreVersion ?? '',
    flavorId: o.flavor ?? '',
    volumeSizeGb: size,
    databases: databases.map((d) => ({ name: d })),
    users,
    rootPassword: o.rootPasswordFile ? readSecretFile(o.rootPasswordFile, '--root-password-file', warn) : '',
    overrides: overrides(o.config ?? []),
    backupId: o.backup ?? '',
    configurationId: o.configuration ? await groupId(conn, o.configuration) : '',
    restoreTime: o.restoreTime ?? '',
    restoreLsn: o.restoreLsn ?? '',
    restoreGtid: o.restoreGtid ?? '',
  });
  const r = await conn.unary<CreateInstanceResponse>((md, opts, cb) => conn.instances.createInstance(req, md, opts, cb));
  const inst = r.instance!;
  if (!o.wait) {
    ctx.out.fields(instanceFields(inst), instanceJson(inst));
    if (!ctx.settings.json) ctx.out.note(`follow it with: coffer instance watch ${inst.id}`);
    return;
  }
  const point = o.restoreTime ?? o.restoreLsn ?? o.restoreGtid;
  const doing = o.backup ? `restoring backup ${o.backup}${point ? ` to ${point}` : ''}` : 'being created';
  const title = o.backup ? `restoring ${name} from ${o.backup}` : `creating ${name}`;
  settle(ctx, await followInstance(conn, ctx.display(), inst.id, r.taskId, title), doing);
}

export function instanceCommand(): Command {
  const cmd = new Command('instance').description('database instances: create, list, show, watch, delete, restart; replicas: create --replica-of, promote, eject, detach');

  cmd
    .command('create')
    .description('create an instance (or restore one from a backup) and follow its progress until it is ACTIVE')
    .argument('<name>', 'a name for the instance, unique in your project')
    .option('--datastore <name>', 'mariadb, mysql, ... (see `coffer datastore list`; default mariadb)')
    .option('--datastore-version <version>', 'default: the datastore\'s default version')
    .option('--flavor <id>', 'see `coffer flavor list` (default: the smallest)')
    .option('--size <gb>', 'volume size in GB (default 1)')
    .option('--database <name>', 'a database to create (repeatable)', collect)
    .option('--user <name>', 'a user to create, with access to every --database')
    .option('--user-host <host>', 'the host the --user may connect from', '%')
    .option('--password-file <file>', 'the --user\'s password, on the first line of FILE ("-" for stdin; default: prompt)')
    .option('--root-password-file <file>', 'enable root with the password in FILE')
    .option('--backup <id>', 'restore this backup into the new instance')
    .option('--restore-time <utc>', 'with --backup: restore to this second (UTC, e.g. 2026-12-02T01:30:00Z), replaying the archive after the backup')
    .option('--restore-lsn <lsn>', 'with --backup, PostgreSQL: restore to this WAL location (e.g. 0/3000060)')
    .option('--restore-gtid <gtid>', 'with --backup, MariaDB/MySQL: restore to just after this GTID (e.g. 0-1-42)')
    .option('--config <key=value>', 'a configuration override (repeatable)', collect)
    .option('--configuration <group>', 'create with this configuration group\'s values (id or name; docs/configuration-groups.md)')
    .option('--replica-of <instance>', 'create replicas of this instance (id or name): they take its datastore, version, flavor, size and data')
    .option('--replica-count <n>', 'with --replica-of: 1 to 3 replicas, named NAME-1, NAME-2... when more than one (default 1)')
    .option('--auto-failover', 'with --replica-of: the control ejects the set\'s source on its own when it is gone (default: the control\'s setting)')
    .option('--no-auto-failover', 'with --replica-of: a person ejects a dead source (`coffer instance eject`)')
    .option('--no-wait', 'return once the instance is recorded, without following its progress')
    .action(act<CreateOptions>((ctx, args, o) => create(ctx, args[0] as string, o)));

  cmd
    .command('list')
    .description('list the instances of your project')
    .action(
      act(async (ctx) => {
        const all = await allInstances(ctx.conn);
        ctx.out.table(INSTANCE_HEADERS, all.map(instanceRow), all.map(instanceJson), 'no instances yet: create one with `coffer instance create NAME`');
      }),
    );

  cmd
    .command('show')
    .description('show one instance')
    .argument('<instance>', 'id or name')
    .action(
      act(async (ctx, args) => {
        // By id: GetInstance adds what lists leave out (the restorable window).
        const i = await findInstance(ctx.conn, await instanceId(ctx.conn, args[0] as string));
        ctx.out.fields(instanceFields(i), instanceJson(i));
      }),
    );

  cmd
    .command('watch')
    .description('follow an instance\'s running task until the instance is ACTIVE or ERROR')
    .argument('<instance>', 'id or name')
    .action(
      act(async (ctx, args) => {
        const i = await findInstance(ctx.conn, args[0] as string);
        settle(ctx, await followInstance(ctx.conn, ctx.display(), i.id, i.taskId, `watching ${i.name}`), 'being watched');
      }),
    );

  cmd
    .command('delete')
    .description('delete an instance: its agent and datastore are stopped and its data removed')
    .argument('<instance>', 'id or name')
    .option('--no-wait', 'return once the delete task has started')
    .action(
      act<{ wait: boolean }>(async (ctx, args, o) => {
        const { conn } = ctx;
        const i = await findInstance(conn, args[0] as string);
        const r = await conn.unary<DeleteInstanceResponse>((md, opts, cb) => conn.instances.deleteInstance({ id: i.id }, md, opts, cb));
        if (o.wait) {
          const task = await followTask(conn, ctx.display(), r.taskId, `deleting ${i.name}`);
          if (task && task.state === TaskState.TASK_STATE_FAILED) throw failed(`deleting instance ${i.name} failed: ${task.error}`);
        }
        ctx.out.done(o.wait ? `instance ${i.name} (${i.id}) deleted` : `instance ${i.name} (${i.id}) is being deleted (task ${r.taskId})`, {
          id: i.id,
          name: i.name,
          taskId: r.taskId,
          deleted: o.wait,
        });
      }),
    );

  cmd
    .command('restart')
    .description('restart an instance\'s datastore and wait until it is ACTIVE again')
    .argument('<instance>', 'id or name')
    .option('--no-wait', 'return once the restart task has started')
    .action(
      act<{ wait: boolean }>(async (ctx, args, o) => {
        const { conn } = ctx;
        const i = await findInstance(conn, args[0] as string);
        const r = await conn.unary<RestartInstanceResponse>((md, opts, cb) => conn.instances.restartInstance({ id: i.id }, md, opts, cb));
        if (!o.wait) {
          ctx.out.done(`instance ${i.name} is restarting (task ${r.taskId})`, { id: i.id, taskId: r.taskId });
          return;
        }
        settle(ctx, await followInstance(conn, ctx.display(), i.id, r.taskId, `restarting ${i.name}`), 'restarting');
      }),
    );

  cmd
    .command('promote')
    .description('switch a replica over to be its set\'s source (no committed transaction lost); the old source follows it')
    .argument('<instance>', 'the replica, by id or name')
    .option('--no-wait', 'return once the switchover has started')
    .action(
      act<{ wait: boolean }>((ctx, args, o) =>
        replicationAction(ctx, args[0] as string, o.wait, 'promoting', (conn, id) =>
          conn.unary<PromoteToReplicaSourceResponse>((md, opts, cb) => conn.instances.promoteToReplicaSource({ id }, md, opts, cb)),
        ),
      ),
    );

  cmd
    .command('eject')
    .description('eject a source that is gone (its agent no longer heard): its most advanced replica takes over, and the old source rejoins as a replica when it comes back')
    .argument('<instance>', 'the source, by id or name')
    .option('--no-wait', 'return once the eject has started')
    .action(
      act<{ wait: boolean }>((ctx, args, o) =>
        replicationAction(ctx, args[0] as string, o.wait, 'ejecting', (conn, id) =>
          conn.unary<EjectReplicaSourceResponse>((md, opts, cb) => conn.instances.ejectReplicaSource({ id }, md, opts, cb)),
        ),
      ),
    );

  cmd
    .command('detach')
    .description('make a replica standalone and writable')
    .argument('<instance>', 'the replica, by id or name')
    .option('--no-wait', 'return once the detach has started')
    .action(
      act<{ wait: boolean }>((ctx, args, o) =>
        replicationAction(ctx, args[0] as string, o.wait, 'detaching', (conn, id) =>
          conn.unary<DetachReplicaResponse>((md, opts, cb) => conn.instances.detachReplica({ id }, md, opts, cb)),
        ),
      ),
    );

  return cmd;
}
