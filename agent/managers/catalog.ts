// The datastores this agent can manage, by name, with what configuration
// needs of each (versions, default port) and a loader for its manager. A
// static table: nothing is loaded from a name given in configuration.
//
// The agent loads only the chosen datastore's manager (a dynamic import of a
// fixed module): each manager pulls in its client driver (mysql2, pg,
// ioredis), and loading all four cost every agent start ~0.35 s of CPU for
// drivers it never uses (docs/performance.md, "What one start costs").
// registry.ts holds the same managers loaded eagerly, for code that wants
// them all at once.
import type { DatastoreDefaults } from '../config.js';
import type { ManagerFactory } from './manager.js';
import { mariadbFlavor } from './mariadb/flavor.js';
import { mysqlFlavor } from './mysql/flavor.js';

export interface DatastoreEntry extends DatastoreDefaults {
  /** Loads the datastore's manager (its module and its driver). */
  load(): Promise<ManagerFactory>;
}

export const MARIADB_DEFAULTS: DatastoreDefaults = { versions: mariadbFlavor.versions, defaultVersion: mariadbFlavor.defaultVersion, defaultPort: 3306 };
export const MYSQL_DEFAULTS: DatastoreDefaults = { versions: mysqlFlavor.versions, defaultVersion: mysqlFlavor.defaultVersion, defaultPort: 3306 };
export const POSTGRESQL_DEFAULTS: DatastoreDefaults = { versions: ['15'], defaultVersion: '15', defaultPort: 5432 };
// "7.0": the major.minor Debian 12 ships (7.0.x), as MariaDB's "10.11": the
// ACL and configuration rules (rules/redis-7.0.json) are per minor version.
export const REDIS_DEFAULTS: DatastoreDefaults = { versions: ['7.0'], defaultVersion: '7.0', defaultPort: 6379 };

export const DATASTORES: ReadonlyMap<string, DatastoreEntry> = new Map<string, DatastoreEntry>([
  ['mariadb', { ...MARIADB_DEFAULTS, load: async () => (await import('./mariadb/index.js')).mariadb }],
  ['mysql', { ...MYSQL_DEFAULTS, load: async () => (await import('./mysql/index.js')).mysql }],
  ['postgresql', { ...POSTGRESQL_DEFAULTS, load: async () => (await import('./postgresql/index.js')).postgresql }],
  ['redis', { ...REDIS_DEFAULTS, load: async () => (await import('./redis/index.js')).redis }],
]);
