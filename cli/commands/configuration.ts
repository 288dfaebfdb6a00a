// coffer configuration create|list|show|set|delete|attach|detach|instances|
// default|parameters: configuration groups (docs/configuration-groups.md),
// the equivalents of `openstack database configuration ...`. Values are
// given as NAME=VALUE (repeatable --set); attach, detach and set follow the
// apply task and print each instance's outcome.
import { Command } from 'commander';
import {
  type Configuration,
  type CreateConfigurationResponse,
  type GetConfigurationResponse,
  type GetInstanceConfigurationResponse,
  type ListConfigurationsResponse,
  type ListParametersResponse,
  type UpdateConfigurationResponse,
} from '../../proto/gen/coffer/control/v1/configurations.js';
import type { Connection } from '../connection.js';
import { act, collect, type CommandContext } from '../context.js';
import { CliError, EXIT, failed, usage } from '../errors.js';
import { instanceId } from '../resolve.js';
import { followTask } from '../watch.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** NAME=VALUE pairs to a map (the value may hold '='). */
function valuesOf(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0) throw usage(`--set ${JSON.stringify(p)}: give NAME=VALUE, e.g. --set max_connections=200`);
    Object.defineProperty(out, p.slice(0, i), { value: p.slice(i + 1), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

async function allGroups(conn: Connection): Promise<Configuration[]> {
  const out: Configuration[] = [];
  let pageToken = '';
  do {
    const r = await conn.unary<ListConfigurationsResponse>((md, o, cb) => conn.configurations.listConfigurations({ pageSize: 1000, pageToken }, md, o, cb));
    out.push(...r.configurations);
    pageToken = r.nextPageToken;
  } while (pageToken);
  return out;
}

/** The group named or identified by `ref`. */
async function findGroup(conn: Connection, ref: string): Promise<Configuration> {
  if (!ref.trim()) throw usage('a configuration group id or name is required');
  if (UUID.test(ref)) return (await conn.unary<GetConfigurationResponse>((md, o, cb) => conn.configurations.getConfiguration({ id: ref }, md, o, cb))).configuration!;
  const named = (await allGroups(conn)).filter((g) => g.name === ref);
  if (named.length === 0) throw new CliError(`no configuration group is named "${ref}"; see \`coffer configuration list\``, EXIT.NOT_FOUND);
  if (named.length > 1) throw new CliError(`${named.length} configuration groups are named "${ref}": use one of their ids (${named.map((g) => g.id).join(', ')})`, EXIT.USAGE);
  return named[0]!;
}

/** Just the id, for calls that take one. */
export async function groupId(conn: Connection, ref: string): Promise<string> {
  return UUID.test(ref) ? ref : (await findGroup(conn, ref)).id;
}

const json = (g: Configuration) => ({
  id: g.id,
  name: g.name,
  description: g.description,
  datastore: g.datastore,
  datastore_version: g.datastoreVersion,
  values: g.values,
  instance_count: g.instanceCount,
  instances: g.instances,
});

function show(ctx: CommandContext, g: Configuration): void {
  const values = Object.entries(g.values).map(([k, v]) => `${k}=${v}`).join(', ');
  const instances = g.instances.map((i) => `${i.name} (${i.state || 'attached'}${i.message ? `: ${i.message}` : ''})`).join(', ');
  ctx.out.fields(
    [['id', g.id], ['name', g.name], ['description', g.description], ['datastore', `${g.datastore} ${g.datastoreVersion}`], ['values', values], ['instances', instances || '(none)']],
    json(g),
  );
}

/** Follows an apply task; fails when an instance could not take the values. */
async function follow(ctx: CommandContext, taskId: string, title: string, wait: boolean): Promise<void> {
  if (!taskId || !wait) return;
  const task = await followTask(ctx.conn, ctx.display(), taskId, title);
  if (task?.error) throw failed(task.error);
}

export function configurationCommand(): Command {
  const cmd = new Command('configuration').description('configuration groups: datastore parameter values shared by instances');
  const get = (conn: Connection, id: string) => conn.unary<GetConfigurationResponse>((md, o, cb) => conn.configurations.getConfiguration({ id }, md, o, cb));

  cmd
    .command('create')
    .description('create a configuration group (values are checked against the datastore version\'s parameters)')
    .argument('<name>')
    .option('--datastore <name>', 'default mariadb')
    .option('--version <version>', 'default: the datastore\'s default version')
    .option('--description <text>')
    .option('--set <name=value>', 'a parameter value (repeatable)', collect, [])
    .action(
      act<{ datastore?: string; version?: string; description?: string; set: string[] }>(async (ctx, args, o) => {
        const req = { name: args[0] as string, description: o.description ?? '', datastore: o.datastore ?? '', datastoreVersion: o.version ?? '', values: valuesOf(o.set) };
        const r = await ctx.conn.unary<CreateConfigurationResponse>((md, opts, cb) => ctx.conn.configurations.createConfiguration(req, md, opts, cb));
        show(ctx, r.configuration!);
      }),
    );

  cmd
    .command('list')
    .description('list configuration groups')
    .action(
      act(async ({ conn, out }) => {
        const all = await allGroups(conn);
        out.table(['ID', 'NAME', 'DATASTORE', 'INSTANCES'], all.map((g) => [g.id, g.name, `${g.datastore} ${g.datastoreVersion}`, String(g.instanceCount)]), all.map(json), 'no configuration groups');
      }),
    );

  cmd
    .command('show')
    .description('show a configuration group, its values and how its last change went on each instance')
    .argument('<group>', 'id or name')
    .action(act(async (ctx, args) => show(ctx, await findGroup(ctx.conn, args[0] as string))));

  cmd
    .command('set')
    .description('change values (merged; all replaced with --replace) and re-apply the group to its instances')
    .argument('<group>', 'id or name')
    .option('--set <name=value>', 'a parameter value (repeatable)', collect, [])
    .option('--replace', 'the values given replace all the group\'s values')
    .option('--name <name>', 'rename the group')
    .option('--description <text>')
    .option('--no-wait', 'return once the re-apply task has started')
    .action(
      act<{ set: string[]; replace?: boolean; name?: string; description?: string; wait: boolean }>(async (ctx, args, o) => {
        const g = await findGroup(ctx.conn, args[0] as string);
        const req = { id: g.id, values: valuesOf(o.set), replace: o.replace === true, name: o.name, description: o.description };
        const r = await ctx.conn.unary<UpdateConfigurationResponse>((md, opts, cb) => ctx.conn.configurations.updateConfiguration(req, md, opts, cb));
        await follow(ctx, r.taskId, `applying ${g.name}`, o.wait);
        show(ctx, (await get(ctx.conn, g.id)).configuration!);
      }),
    );

  cmd
    .command('delete')
    .description('delete a configuration group (refused while instances are attached)')
    .argument('<group>', 'id or name')
    .action(
      act(async ({ conn, out }, args) => {
        const g = await findGroup(conn, args[0] as string);
        await conn.unary((md, opts, cb) => conn.configurations.deleteConfiguration({ id: g.id }, md, opts, cb));
        out.done(`deleted configuration group ${g.name} (${g.id})`, { id: g.id, deleted: true });
      }),
    );

  cmd
    .command('attach')
    .description('attach a group to an instance: dynamic values at once, the others at its next restart')
    .argument('<instance>', 'id or name')
    .argument('<group>', 'id or name')
    .option('--no-wait', 'return once the apply task has started')
    .action(
      act<{ wait: boolean }>(async (ctx, args, o) => {
        const id = await instanceId(ctx.conn, args[0] as string);
        const g = await findGroup(ctx.conn, args[1] as string);
        const r = await ctx.conn.unary<{ taskId: string }>((md, opts, cb) => ctx.conn.configurations.attachConfiguration({ instanceId: id, configurationId: g.id }, md, opts, cb));
        await follow(ctx, r.taskId, `attaching ${g.name}`, o.wait);
        ctx.out.done(`attached ${g.name} to ${args[0] as string}`, { instance_id: id, configuration_id: g.id, task_id: r.taskId });
      }),
    );

  cmd
    .command('detach')
    .description('detach the group from an instance (its values are taken off)')
    .argument('<instance>', 'id or name')
    .option('--no-wait', 'return once the apply task has started')
    .action(
      act<{ wait: boolean }>(async (ctx, args, o) => {
        const id = await instanceId(ctx.conn, args[0] as string);
        const r = await ctx.conn.unary<{ taskId: string }>((md, opts, cb) => ctx.conn.configurations.detachConfiguration({ instanceId: id }, md, opts, cb));
        await follow(ctx, r.taskId, `detaching from ${args[0] as string}`, o.wait);
        ctx.out.done(r.taskId ? `detached the configuration group from ${args[0] as string}` : `${args[0] as string} has no configuration group`, { instance_id: id, task_id: r.taskId });
      }),
    );

  cmd
    .command('instances')
    .description('the instances a group is attached to')
    .argument('<group>', 'id or name')
    .action(
      act(async ({ conn, out }, args) => {
        const g = await findGroup(conn, args[0] as string);
        out.table(['ID', 'NAME', 'STATE'], g.instances.map((i) => [i.id, i.name, i.state]), g.instances, 'no instances');
      }),
    );

  cmd
    .command('default')
    .description('the configuration values in force on an instance')
    .argument('<instance>', 'id or name')
    .action(
      act(async ({ conn, out }, args) => {
        const id = await instanceId(conn, args[0] as string);
        const r = await conn.unary<GetInstanceConfigurationResponse>((md, opts, cb) => conn.configurations.getInstanceConfiguration({ instanceId: id }, md, opts, cb));
        const names = Object.keys(r.values).sort();
        out.table(['NAME', 'VALUE'], names.map((n) => [n, r.values[n]!]), r.values);
      }),
    );

  cmd
    .command('parameters')
    .description('the parameters a group of a datastore version may set')
    .argument('[datastore]', 'default mariadb')
    .option('--version <version>', 'default: the datastore\'s default version')
    .action(
      act<{ version?: string }>(async ({ conn, out }, args, o) => {
        const r = await conn.unary<ListParametersResponse>((md, opts, cb) => conn.configurations.listParameters({ datastore: (args[0] as string | undefined) ?? '', datastoreVersion: o.version ?? '' }, md, opts, cb));
        const range = (p: { min: string; max: string; allowedValues: string[] }) => (p.allowedValues.length ? p.allowedValues.join('|') : p.min || p.max ? `${p.min || '-'}..${p.max || '-'}` : '');
        out.table(['NAME', 'TYPE', 'RANGE', 'RESTART'], r.parameters.map((p) => [p.name, p.type, range(p), p.dynamic ? 'no' : 'yes']), r.parameters);
      }),
    );
  return cmd;
}
