// The agent's own connections to the server: its admin role over the unix
// socket (peer authentication, no secret). Values go as bind parameters
// wherever PostgreSQL allows them; identifiers are validated (names.ts) and
// quoted with pg's escapeIdentifier.
import pg from 'pg';
import type { Logger } from '../../../lib/logger.js';
import { AgentError, type AgentErrorCode } from '../../errors.js';

export type Row = Record<string, unknown>;
export type Query = (sql: string, values?: unknown[]) => Promise<Row[]>;

export const quoteId = (name: string): string => pg.escapeIdentifier(name);
export const quoteLiteral = (value: string): string => pg.escapeLiteral(value);

// SQLSTATEs that mean the caller asked for something impossible, not that
// the agent failed. https://www.postgresql.org/docs/15/errcodes-appendix.html
const CALLER_ERRORS: Readonly<Record<string, AgentErrorCode>> = {
  '42P04': 'AGENT_ERR_ALREADY_EXISTS', // duplicate_database
  '42710': 'AGENT_ERR_ALREADY_EXISTS', // duplicate_object (role)
  '3D000': 'AGENT_ERR_NOT_FOUND', // invalid_catalog_name (database)
  '42704': 'AGENT_ERR_NOT_FOUND', // undefined_object (role)
  '22023': 'AGENT_ERR_INVALID_ARGUMENT', // invalid_parameter_value (encoding, locale, setting)
  '22P02': 'AGENT_ERR_INVALID_ARGUMENT', // invalid_text_representation
  '42602': 'AGENT_ERR_INVALID_ARGUMENT', // invalid_name
  '2BP01': 'AGENT_ERR_NOT_READY', // dependent_objects_still_exist
  '55006': 'AGENT_ERR_NOT_READY', // object_in_use
  '57P01': 'AGENT_ERR_NOT_READY', // admin_shutdown
  '57P03': 'AGENT_ERR_NOT_READY', // cannot_connect_now (starting up, recovering)
  '25006': 'AGENT_ERR_NOT_READY', // read_only_sql_transaction (a standby, or a fenced source)
};

export interface PgClientOptions {
  /** The unix socket directory (unix_socket_directories). */
  readonly socketDir: string;
  readonly port: number;
  readonly user: string;
  readonly log: Logger;
}

export class PgClient {
  private pool: pg.Pool | null = null;

  constructor(private readonly opts: PgClientOptions) {}

  private config(database: string): pg.ClientConfig {
    // host = a directory: libpq's convention, which pg follows, for the socket
    // <dir>/.s.PGSQL.<port>. No password: pg_hba.conf admits the role by peer.
    return { host: this.opts.socketDir, port: this.opts.port, user: this.opts.user, database, application_name: 'coffer-agent' };
  }

  open(): void {
    if (this.pool) return;
    const pool = new pg.Pool({ ...this.config('postgres'), max: 4, idleTimeoutMillis: 30_000 });
    // An idle connection dies with the server (a crash, a stop): without a
    // listener that error would take the agent down with it.
    pool.on('error', (err) => this.opts.log.warn({ err: err.message }, 'idle datastore connection lost'));
    this.pool = pool;
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    if (pool) await pool.end().catch(() => undefined);
  }

  async query(sql: string, values: unknown[] = []): Promise<Row[]> {
    this.open();
    try {
      return (await this.pool!.query(sql, values)).rows as Row[];
    } catch (err) {
      throw translate(err);
    }
  }

  /** Runs fn in one transaction on one pooled connection. */
  async transaction<T>(fn: (q: Query) => Promise<T>): Promise<T> {
    this.open();
    let client: pg.PoolClient;
    try {
      client = await this.pool!.connect();
    } catch (err) {
      throw translate(err);
    }
    const q = wrap(client);
    try {
      await q('BEGIN');
      const out = await fn(q);
      await q('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /**
   * A short-lived connection to another database: privileges on a schema and
   * ownership of objects live inside each database and can only be changed
   * from a session connected to it.
   */
  async inDatabase<T>(database: string, fn: (q: Query) => Promise<T>): Promise<T> {
    return this.session(database, fn);
  }

  /** A dedicated connection that lives exactly as long as fn. */
  async session<T>(database: string, fn: (q: Query) => Promise<T>): Promise<T> {
    const client = new pg.Client(this.config(database));
    client.on('error', (err) => this.opts.log.warn({ err: err.message }, 'datastore session lost'));
    try {
      await client.connect();
    } catch (err) {
      throw translate(err);
    }
    try {
      return await fn(wrap(client));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

function wrap(client: pg.ClientBase): Query {
  return async (sql, values = []) => {
    try {
      return (await client.query(sql, values)).rows as Row[];
    } catch (err) {
      throw translate(err);
    }
  };
}

export function translate(err: unknown): Error {
  if (err instanceof AgentError) return err;
  const e = err as { code?: string; message?: string };
  if (typeof e?.code === 'string' && CALLER_ERRORS[e.code]) return new AgentError(CALLER_ERRORS[e.code]!, e.message ?? String(err));
  if (e?.code === 'ECONNREFUSED' || e?.code === 'ENOENT' || e?.code === 'ECONNRESET') {
    return new AgentError('AGENT_ERR_NOT_READY', `the datastore is not answering (${e.code})`, { cause: err });
  }
  return new AgentError('AGENT_ERR_DATASTORE', `the datastore refused a statement: ${e?.message ?? err}`, { cause: err });
}
