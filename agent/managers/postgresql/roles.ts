// Role primitives: existence, creation with a SCRAM verifier, password
// changes, rename, and removal that keeps the role's data.
import { ADMIN_ROLE } from './constants.js';
import { quoteId, quoteLiteral, type PgClient, type Query } from './pg-client.js';
import { scramVerifier } from './scram.js';

export class PgRoles {
  constructor(private readonly sql: PgClient) {}

  /** True for a role that can log in (a "user"; NOLOGIN group roles are not users). */
  async loginExists(name: string, q: Query = this.sql.query.bind(this.sql)): Promise<boolean> {
    return (await q('SELECT 1 FROM pg_roles WHERE rolname = $1 AND rolcanlogin', [name])).length > 0;
  }

  async anyExists(name: string): Promise<boolean> {
    return (await this.sql.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name])).length > 0;
  }

  /** The password clause: a verifier computed here, never the plaintext (scram.ts). */
  passwordClause(password: string): string {
    return `PASSWORD ${quoteLiteral(scramVerifier(password))}`;
  }

  async create(q: Query, name: string, password: string, attributes: string): Promise<void> {
    await q(`CREATE ROLE ${quoteId(name)} WITH LOGIN ${attributes} ${this.passwordClause(password)}`);
  }

  async setPassword(q: Query, name: string, password: string): Promise<void> {
    await q(`ALTER ROLE ${quoteId(name)} WITH ${this.passwordClause(password)}`);
  }

  async rename(q: Query, from: string, to: string): Promise<void> {
    // SCRAM verifiers do not depend on the role name (MD5 ones did), so the
    // password survives the rename.
    await q(`ALTER ROLE ${quoteId(from)} RENAME TO ${quoteId(to)}`);
  }

  /**
   * Drops a role. Whatever it owns in any database is first handed to the
   * agent's role (REASSIGN OWNED) and its privileges removed (DROP OWNED),
   * database by database, since ownership lives inside each database: a
   * deleted user's tables stay, rather than the call failing or silently
   * dropping data.
   */
  async drop(name: string): Promise<void> {
    const dbs = await this.sql.query('SELECT datname FROM pg_database WHERE datallowconn ORDER BY datname');
    for (const r of dbs) {
      await this.sql.inDatabase(String(r.datname), async (q) => {
        await q(`REASSIGN OWNED BY ${quoteId(name)} TO ${quoteId(ADMIN_ROLE)}`);
        await q(`DROP OWNED BY ${quoteId(name)}`);
      });
    }
    await this.sql.query(`DROP ROLE ${quoteId(name)}`);
  }
}
