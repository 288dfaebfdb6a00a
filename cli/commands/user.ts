// coffer user create|list|show|delete|grant|revoke|access. For the MySQL
// family a user is (name, host); --host defaults to "%" (any host).
import { Command } from 'commander';
import type { ListUsersResponse } from '../../proto/gen/coffer/control/v1/accounts.js';
import type { User } from '../../proto/gen/coffer/agent/v1/common.js';
import type { Connection } from '../connection.js';
import { act, collect } from '../context.js';
import { CliError, EXIT } from '../errors.js';
import { instanceId } from '../resolve.js';
import { readPassword } from '../secret-files.js';

interface HostOption {
  host: string;
}

const HOST_HELP = 'the host part of the user (MySQL family)';

const userJson = (u: User) => ({ name: u.name, host: u.host, databases: u.databases, rules: u.rules });

async function users(conn: Connection, id: string): Promise<User[]> {
  const r = await conn.unary<ListUsersResponse>((md, o, cb) => conn.accounts.listUsers({ instanceId: id }, md, o, cb));
  return r.users;
}

async function findUser(conn: Connection, id: string, name: string, host: string): Promise<User> {
  const u = (await users(conn, id)).find((x) => x.name === name && x.host === host);
  if (!u) throw new CliError(`user ${name}@${host} does not exist on instance ${id}; see \`coffer user list ${id}\``, EXIT.NOT_FOUND);
  return u;
}

export function userCommand(): Command {
  const cmd = new Command('user').description('users of an instance and their access to databases');

  cmd
    .command('create')
    .description('create a user; the password comes from --password-file, stdin or a prompt, never the command line')
    .argument('<instance>', 'id or name')
    .argument('<name>', 'user name')
    .option('--host <host>', HOST_HELP, '%')
    .option('--database <name>', 'a database the user gets access to (repeatable)', collect)
    .option('--password-file <file>', 'the password on the first line of FILE ("-" for stdin; default: prompt)')
    .action(
      act<HostOption & { database?: string[]; passwordFile?: string }>(async ({ conn, out }, args, o) => {
        const databases = o.database ?? [];
        const id = await instanceId(conn, args[0] as string);
        const name = args[1] as string;
        const password = await readPassword({ file: o.passwordFile, what: `user ${name}@${o.host}`, warn: (l) => out.note(l) });
        await conn.unary((md, opts, cb) =>
          conn.accounts.createUsers({ instanceId: id, users: [{ name, host: o.host, password, databases, rules: [] }] }, md, opts, cb),
        );
        out.done(`created user ${name}@${o.host}${databases.length ? ` with access to ${databases.join(', ')}` : ''}`, { instanceId: id, name, host: o.host, databases });
      }),
    );

  cmd
    .command('list')
    .description('list the users of an instance')
    .argument('<instance>', 'id or name')
    .action(
      act(async ({ conn, out }, args) => {
        const all = await users(conn, await instanceId(conn, args[0] as string));
        out.table(['NAME', 'HOST', 'DATABASES'], all.map((u) => [u.name, u.host, u.databases.join(', ')]), all.map(userJson), 'no users');
      }),
    );

  cmd
    .command('show')
    .description('show one user')
    .argument('<instance>', 'id or name')
    .argument('<name>', 'user name')
    .option('--host <host>', HOST_HELP, '%')
    .action(
      act<HostOption>(async ({ conn, out }, args, o) => {
        const u = await findUser(conn, await instanceId(conn, args[0] as string), args[1] as string, o.host);
        out.fields([['name', u.name], ['host', u.host], ['databases', u.databases.join(', ') || '(none)'], ['rules', u.rules.join(' ')]], userJson(u));
      }),
    );

  cmd
    .command('delete')
    .description('delete a user')
    .argument('<instance>', 'id or name')
    .argument('<name>', 'user name')
    .option('--host <host>', HOST_HELP, '%')
    .action(
      act<HostOption>(async ({ conn, out }, args, o) => {
        const id = await instanceId(conn, args[0] as string);
        const name = args[1] as string;
        await conn.unary((md, opts, cb) => conn.accounts.deleteUser({ instanceId: id, name, host: o.host }, md, opts, cb));
        out.done(`deleted user ${name}@${o.host}`, { instanceId: id, name, host: o.host, deleted: true });
      }),
    );

  cmd
    .command('grant')
    .description('give a user access to databases')
    .argument('<instance>', 'id or name')
    .argument('<name>', 'user name')
    .argument('<database...>', 'database names')
    .option('--host <host>', HOST_HELP, '%')
    .action(
      act<HostOption>(async ({ conn, out }, args, o) => {
        const id = await instanceId(conn, args[0] as string);
        const name = args[1] as string;
        const databases = args[2] as string[];
        await conn.unary((md, opts, cb) => conn.accounts.grantAccess({ instanceId: id, name, host: o.host, databases }, md, opts, cb));
        out.done(`granted ${name}@${o.host} access to ${databases.join(', ')}`, { instanceId: id, name, host: o.host, granted: databases });
      }),
    );

  cmd
    .command('revoke')
    .description('take a database away from a user')
    .argument('<instance>', 'id or name')
    .argument('<name>', 'user name')
    .argument('<database>', 'database name')
    .option('--host <host>', HOST_HELP, '%')
    .action(
      act<HostOption>(async ({ conn, out }, args, o) => {
        const id = await instanceId(conn, args[0] as string);
        const name = args[1] as string;
        const database = args[2] as string;
        await conn.unary((md, opts, cb) => conn.accounts.revokeAccess({ instanceId: id, name, host: o.host, database }, md, opts, cb));
        out.done(`revoked ${name}@${o.host}'s access to ${database}`, { instanceId: id, name, host: o.host, revoked: database });
      }),
    );

  cmd
    .command('access')
    .description('list the databases a user can reach')
    .argument('<instance>', 'id or name')
    .argument('<name>', 'user name')
    .option('--host <host>', HOST_HELP, '%')
    .action(
      act<HostOption>(async ({ conn, out }, args, o) => {
        const u = await findUser(conn, await instanceId(conn, args[0] as string), args[1] as string, o.host);
        out.table(['DATABASE'], u.databases.map((d) => [d]), u.databases, `${u.name}@${u.host} has access to no database`);
      }),
    );
  return cmd;
}
