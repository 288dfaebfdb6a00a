// Access of a user to databases: CONNECT, CREATE and TEMPORARY on the
// database (ALL PRIVILEGES), and USAGE and CREATE on its public schema,
// without which a granted user could connect but not create a table
// (PostgreSQL 15 no longer lets PUBLIC create in public).
import type { Database } from '../../../proto/gen/coffer/agent/v1/common.js';
import { RESERVED_DATABASES } from './constants.js';
import { quoteId, type PgClient } from './pg-client.js';

export class PgAccess {
  constructor(private readonly sql: PgClient) {}

  async grant(role: string, database: string): Promise<void> {
    await this.sql.query(`GRANT ALL PRIVILEGES ON DATABASE ${quoteId(database)} TO ${quoteId(role)}`);
    await this.sql.inDatabase(database, async (q) => {
      const schema = await q(`SELECT 1 FROM pg_namespace WHERE nspname = 'public'`);
      if (schema.length) await q(`GRANT USAGE, CREATE ON SCHEMA public TO ${quoteId(role)}`);
    });
  }

  async revoke(role: string, database: string): Promise<void> {
    await this.sql.inDatabase(database, async (q) => {
      const schema = await q(`SELECT 1 FROM pg_namespace WHERE nspname = 'public'`);
      if (schema.length) await q(`REVOKE ALL ON SCHEMA public FROM ${quoteId(role)}`);
    });
    await this.sql.query(`REVOKE ALL PRIVILEGES ON DATABASE ${quoteId(database)} FROM ${quoteId(role)}`);
  }

  /** Databases on which the role holds CONNECT by an explicit grant (not through PUBLIC). */
  async list(role: string): Promise<Database[]> {
    const rows = await this.sql.query(
      `SELECT d.datname AS name
         FROM pg_database d
        WHERE NOT d.datistemplate AND d.datname <> ALL($2::name[])
          AND EXISTS (SELECT 1 FROM aclexplode(d.datacl) a
                       WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $1) AND a.privilege_type = 'CONNECT')
        ORDER BY d.datname`,
      [role, RESERVED_DATABASES],
    );
    return rows.map((r) => ({ name: String(r.name), characterSet: '', collation: '' }));
  }
}
