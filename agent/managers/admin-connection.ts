// The agent's own connection to a SQL datastore, as the manager interface
// needs it: open it, close it before a stop, and the server's version (the
// last one seen while the server is down). MySQL and PostgreSQL differ only
// in the query that asks for the version.
import type { DatastoreManager } from './manager.js';

/** What both SQL clients (mysql-family/sql-client.ts, postgresql/pg-client.ts) offer. */
export interface AdminSqlClient {
  open(): void;
  close(): Promise<void>;
  query(sql: string): Promise<ReadonlyArray<Record<string, unknown>>>;
}

export function adminConnection(sql: AdminSqlClient, versionQuery: string): Pick<DatastoreManager, 'connect' | 'disconnect' | 'serverVersion'> {
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
  };
}
