// What differs between the members of the MySQL family. Everything else is
// shared code in this folder. On these machines both flavors run on MariaDB
// 10.11 binaries (Oracle MySQL is not packaged for Debian 12); the MySQL
// flavor keeps MySQL's own rules where they are stricter (user name length)
// and its own syntax where it differs (GTIDs), and reports the server's real
// version string in GetStatus, so nobody mistakes one for the other.
export interface MysqlFlavor {
  /** Manager name: mariadb or mysql. */
  readonly name: string;
  readonly versions: readonly string[];
  readonly defaultVersion: string;
  /** Longest user name the server accepts (MariaDB 80, MySQL 32). */
  readonly maxUserNameLength: number;
  /** Accounts that belong to the server or the agent and are never listed or touched. */
  readonly reservedUsers: readonly string[];
  /** SQL expression giving the current GTID position. */
  readonly gtidPositionSql: string;
  /** The physical backup tool. */
  readonly backupTool: string;
}

export const ADMIN_USER = 'coffer_admin';

/**
 * Replication accounts on a source are `coffer_repl_<16 hex>` (replication/
 * names.ts): the agent's, never listed to users, and a user may not take
 * the prefix.
 */
export const REPLICATION_USER_PREFIX = 'coffer_repl_';

/** Databases that belong to the server. */
export const RESERVED_DATABASES: readonly string[] = [
  'mysql',
  'information_schema',
  'performance_schema',
  'sys',
  'lost+found',
  '#mysql50#lost+found',
];
