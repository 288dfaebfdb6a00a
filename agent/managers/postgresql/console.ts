// The console's client for PostgreSQL: psql over the server's unix socket
// (pg_hba.conf asks every tenant's role for its password there, as over
// TCP). The password goes in PGPASSWORD, psql's own variable, in the
// client's environment only. -X: no psqlrc; no pager (it would be a second
// program, which the console never starts).
import type { Database } from '../../../proto/gen/coffer/agent/v1/common.js';
import { invalid } from '../../errors.js';
import type { ConsoleCapability, ConsoleLoginInput, ConsolePlan } from '../manager.js';
import { ADMIN_ROLE, ROOT_ROLE } from './constants.js';
import { checkDatabaseName, checkRoleName } from './names.js';
import { pgTool } from './pg-bin.js';

export function pgConsole(opts: {
  version: string;
  socketDir: string;
  port: number;
  /** The databases a role was granted (the accounts capability's listAccess). */
  databasesOf: (role: string) => Promise<Database[]>;
}): ConsoleCapability {
  return {
    adminUser: ADMIN_ROLE,
    rootUser: ROOT_ROLE,
    async plan(login: ConsoleLoginInput, _dir: string): Promise<ConsolePlan> {
      const user = login.root ? ROOT_ROLE : login.user;
      if (!login.root) checkRoleName(user);
      let database = login.database;
      // Root may open the server's own postgres database; a tenant's role never could.
      if (database && !(login.root && database === 'postgres')) checkDatabaseName(database);
      if (!database && login.root) database = 'postgres';
      if (!database) {
        const granted = await opts.databasesOf(user);
        if (granted.length === 0) throw invalid(`user ${JSON.stringify(user)} may connect to no database: grant it one, or name one to open`);
        database = granted[0]!.name;
      }
      return {
        argv: [pgTool(opts.version, 'psql'), '-X', '-P', 'pager=off', '-h', opts.socketDir, '-p', String(opts.port), '-U', user, '-d', database],
        env: { PGPASSWORD: login.password, PSQL_HISTORY: '/dev/null', PGAPPNAME: 'coffer-console', PGCONNECT_TIMEOUT: '10' },
        secretFiles: {},
        osUser: 'session',
      };
    },
  };
}
