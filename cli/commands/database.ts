// coffer database create|list|delete: databases of an instance, through
// coffer-control to the instance's agent.
import { Command } from 'commander';
import type { ListDatabasesResponse } from '../../proto/gen/coffer/control/v1/accounts.js';
import { act } from '../context.js';
import { instanceId } from '../resolve.js';

export function databaseCommand(): Command {
  const cmd = new Command('database').description('databases of an instance');

  cmd
    .command('create')
    .description('create one or more databases')
    .argument('<instance>', 'id or name')
    .argument('<name...>', 'database names')
    .option('--character-set <cs>', 'character set (default: the server\'s)')
    .option('--collation <collation>', 'collation (default: the character set\'s)')
    .action(
      act<{ characterSet?: string; collation?: string }>(async ({ conn, out }, args, o) => {
        const id = await instanceId(conn, args[0] as string);
        const names = args[1] as string[];
        const databases = names.map((name) => ({ name, characterSet: o.characterSet ?? '', collation: o.collation ?? '' }));
        await conn.unary((md, opts, cb) => conn.accounts.createDatabases({ instanceId: id, databases }, md, opts, cb));
        out.done(`created ${names.length === 1 ? 'database' : 'databases'} ${names.join(', ')}`, { instanceId: id, created: names });
      }),
    );

  cmd
    .command('list')
    .description('list the databases of an instance')
    .argument('<instance>', 'id or name')
    .action(
      act(async ({ conn, out }, args) => {
        const id = await instanceId(conn, args[0] as string);
        const r = await conn.unary<ListDatabasesResponse>((md, opts, cb) => conn.accounts.listDatabases({ instanceId: id }, md, opts, cb));
        out.table(['NAME', 'CHARACTER SET', 'COLLATION'], r.databases.map((d) => [d.name, d.characterSet, d.collation]), r.databases, 'no databases');
      }),
    );

  cmd
    .command('delete')
    .description('delete a database and everything in it')
    .argument('<instance>', 'id or name')
    .argument('<name>', 'database name')
    .action(
      act(async ({ conn, out }, args) => {
        const id = await instanceId(conn, args[0] as string);
        const name = args[1] as string;
        await conn.unary((md, opts, cb) => conn.accounts.deleteDatabase({ instanceId: id, name }, md, opts, cb));
        out.done(`deleted database ${name}`, { instanceId: id, deleted: name });
      }),
    );
  return cmd;
}
