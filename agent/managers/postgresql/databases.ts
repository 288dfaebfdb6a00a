// Databases: list, create (encoding and collation), delete. A created
// database is closed to PUBLIC: only roles granted access (access.ts) may
// connect, unlike PostgreSQL's default of CONNECT for everyone.
import type { Database, Page } from '../../../proto/gen/coffer/agent/v1/common.js';
import { AgentError, invalid, notFound } from '../../errors.js';
import { RESERVED_DATABASES } from './constants.js';
import { checkCollation, checkDatabaseName, checkEncoding } from './names.js';
import { pageLimit } from './page.js';
import { quoteId, quoteLiteral, type PgClient } from './pg-client.js';
import { validateEach } from '../prepare-validation.js';

export function validateDatabase(db: Database): void {
  checkDatabaseName(db.name);
  checkEncoding(db.characterSet);
  checkCollation(db.collation);
}

export class PgDatabases {
  constructor(private readonly sql: PgClient) {}

  async list(page: Page | undefined): Promise<{ databases: Database[]; nextMarker: string }> {
    const limit = pageLimit(page);
    const cmp = page?.includeMarker ? '>=' : '>';
    // datname is of type name, which sorts bytewise: a stable marker order.
    const rows = await this.sql.query(
      `SELECT datname AS name, pg_encoding_to_char(encoding) AS enc, datcollate AS coll
         FROM pg_database
        WHERE NOT datistemplate AND datname <> ALL($1::name[]) AND datname ${cmp} $2::name
        ORDER BY datname LIMIT $3`,
      [RESERVED_DATABASES, page?.marker ?? '', limit + 1],
    );
    const databases = rows.slice(0, limit).map((r) => ({ name: String(r.name), characterSet: String(r.enc), collation: String(r.coll) }));
    return { databases, nextMarker: rows.length > limit ? databases[databases.length - 1]!.name : '' };
  }

  async exists(name: string): Promise<boolean> {
    return (await this.sql.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).length > 0;
  }

  async require(names: readonly string[]): Promise<void> {
    for (const db of names) if (!(await this.exists(db))) throw notFound(`database ${db} does not exist`);
  }

  async create(databases: readonly Database[]): Promise<void> {
    if (databases.length === 0) throw invalid('no databases given');
    validateEach(databases, validateDatabase, (db) => db.name, 'database');
    for (const db of databases) {
      if (await this.exists(db.name)) throw new AgentError('AGENT_ERR_ALREADY_EXISTS', `database ${db.name} exists already`);
      if (db.characterSet) {
        const [row] = await this.sql.query('SELECT pg_char_to_encoding($1) AS id', [db.characterSet]);
        if (Number(row?.id) < 0) throw invalid(`encoding "${db.characterSet}" of database ${db.name} is not known to the server`);
      }
    }
    // CREATE DATABASE cannot run in a transaction: a failure part-way drops
    // the ones this call created, so a batch happens whole or not at all.
    const created: string[] = [];
    try {
      for (const db of databases) {
        let stmt = `CREATE DATABASE ${quoteId(db.name)}`;
        // A different encoding or collation than template1's needs the
        // pristine template0 (PostgreSQL refuses otherwise).
        if (db.characterSet || db.collation) stmt += ' TEMPLATE template0';
        if (db.characterSet) stmt += ` ENCODING ${quoteLiteral(db.characterSet)}`;
        // The collation's locale for character classes too (as Trove does):
        // LC_CTYPE must match the encoding just as LC_COLLATE must.
        if (db.collation) stmt += ` LC_COLLATE ${quoteLiteral(db.collation)} LC_CTYPE ${quoteLiteral(db.collation)}`;
        await this.sql.query(stmt);
        created.push(db.name);
        await this.sql.query(`REVOKE ALL ON DATABASE ${quoteId(db.name)} FROM PUBLIC`);
      }
    } catch (err) {
      for (const name of created) await this.sql.query(`DROP DATABASE IF EXISTS ${quoteId(name)} WITH (FORCE)`).catch(() => undefined);
      throw err;
    }
  }

  async delete(name: string): Promise<void> {
    checkDatabaseName(name);
    if (!(await this.exists(name))) throw notFound(`database ${name} does not exist`);
    // FORCE ends the database's sessions: deleting a database through the
    // API means it goes, as in Trove, rather than failing while a client
    // is connected.
    await this.sql.query(`DROP DATABASE ${quoteId(name)} WITH (FORCE)`);
  }
}
