// The agent's own connection to a SQL datastore, as the manager interface
// needs it: open it, close it before a stop, and the server's version (the
// last one seen while the server is down). MySQL and PostgreSQL differ only
// in the queries that ask for the version and the connection count.
import type { DatastoreManager } from './manager.js';

/** What both SQL clients (mysql-family/sql-client.ts, postgresql/pg-client.ts) offer. */
export interface AdminSqlClient {
  open(): void;
  close(): Promise<void>;
  query(sql: string): Promise<ReadonlyArray<Record<string, unknown>>>;
}

/** `connectionsQuery` answers one row whose column `n` is the number of client connections. */
export function adminConnection(
  sql: AdminSqlClient,
  versionQuery: string,
  connectionsQuery: string,
): Pick<DatastoreManager, 'connect' | 'disconnect' | 'serverVersion' | 'connections'> {
  let cachedVersion = '';
  const serverVersion = async (): Promise<string> => {
    try {
      const rows = await sql.query(versionQuery);
      cachedVersion = String(rows[0]?.v ?? '');
    } catch {
      // Not running: the last version seen.
    }
    return cachedVersion;
  };
  return {
    async connect(): Promise<void> {
      sql.open();
      await serverVersion();
    },
    disconnect: () => sql.close(),
    serverVersion,
    async connections(): Promise<number> {
      const rows = await sql.query(connectionsQuery);
      return Number(rows[0]?.n ?? 0);
    },
  };
}
