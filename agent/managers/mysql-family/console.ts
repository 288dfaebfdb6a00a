// The console's client for the MySQL family: the mariadb (or mysql) client
// over TCP to the instance's own address, as a tenant's client connects, so
// that accounts match by host the way they do for every client ('root'@'%',
// not the OS root's socket account 'root'@'localhost'). The password goes
// in an option file read with --defaults-extra-file (written 0600 for the
// client's OS user by the console core, removed once read); --sandbox
// refuses the client's commands that reach the file system or start a
// program (system, \!, source, tee, pager).
import { requireProgram } from '../../../lib/which.js';
import type { ConsoleCapability, ConsoleLoginInput, ConsolePlan } from '../manager.js';
import { ADMIN_USER, type MysqlFlavor } from './flavor.js';
import { checkDatabaseName, checkUserName } from './names.js';
import path from 'node:path';

export const MYSQL_OPTION_FILE = 'client.cnf';

/** An option file value: double-quoted, with the escapes the option file parser undoes. */
function optionValue(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** Where a local client reaches a server bound to `bind` (a wildcard is reached on loopback). */
export function clientHost(bind: string): string {
  const first = bind.split(',')[0]!.trim();
  if (first === '' || first === '*' || first === '0.0.0.0') return '127.0.0.1';
  if (first === '::') return '::1';
  return first;
}

export function mysqlConsole(opts: { flavor: MysqlFlavor; port: number; bindAddress: string }): ConsoleCapability {
  return {
    adminUser: ADMIN_USER,
    rootUser: 'root',
    async plan(login: ConsoleLoginInput, dir: string): Promise<ConsolePlan> {
      const user = login.root ? 'root' : login.user;
      if (!login.root) checkUserName(user, opts.flavor);
      if (login.database) checkDatabaseName(login.database);
      const client = requireProgram('the mariadb client', 'mariadb', 'mysql');
      return {
        // --defaults-extra-file must come first (the client reads it before parsing the rest).
        argv: [
          client,
          `--defaults-extra-file=${path.join(dir, MYSQL_OPTION_FILE)}`,
          '--sandbox',
          '--protocol=TCP',
          `--host=${clientHost(opts.bindAddress)}`,
          `--port=${opts.port}`,
          `--user=${user}`,
          ...(login.database ? [`--database=${login.database}`] : []),
        ],
        env: { MYSQL_HISTFILE: '/dev/null' },
        secretFiles: { [MYSQL_OPTION_FILE]: `[client]\npassword=${optionValue(login.password)}\n` },
        osUser: 'session',
      };
    },
  };
}
