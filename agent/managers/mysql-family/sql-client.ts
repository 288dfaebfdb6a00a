// The agent's own connection to the server: its admin account over the
// local socket. Every value goes through mysql2's escaping (and names are
// validated before that, in names.ts).
import mysql from 'mysql2/promise';
import { AgentError } from '../../errors.js';

export type Row = Record<string, unknown>;

// mysql2 allocates its caches at their full size, used or not: 16,000
// prepared statements per connection (four arrays of 16,000 slots: 512 KB
// of heap for each pooled connection) and 15,000 compiled row parsers (480
// KB for the process), which a heap snapshot of an idle MariaDB agent found
// among its largest objects (docs/performance.md, "A lean agent"). The
// agent prepares no statements (query, never execute) and reads a few
// dozen result shapes; past these bounds the oldest entry is dropped and
// built again when next needed, which costs time, never a wrong answer.
const MAX_PREPARED_STATEMENTS = 16;
const MAX_ROW_PARSERS = 256;
// In mysql2/promise's module but not in its typings.
(mysql as unknown as { setMaxParserCache(max: number): void }).setMaxParserCache(MAX_ROW_PARSERS);

// Server error numbers that mean the caller asked for something impossible,
// not that the agent failed.
const CALLER_ERRORS: Record<number, 'AGENT_ERR_ALREADY_EXISTS' | 'AGENT_ERR_NOT_FOUND' | 'AGENT_ERR_INVALID_ARGUMENT'> = {
  1007: 'AGENT_ERR_ALREADY_EXISTS', // ER_DB_CREATE_EXISTS
  1008: 'AGENT_ERR_NOT_FOUND', // ER_DB_DROP_EXISTS
  1049: 'AGENT_ERR_NOT_FOUND', // ER_BAD_DB_ERROR
  1115: 'AGENT_ERR_INVALID_ARGUMENT', // ER_UNKNOWN_CHARACTER_SET
  1273: 'AGENT_ERR_INVALID_ARGUMENT', // ER_UNKNOWN_COLLATION
  1253: 'AGENT_ERR_INVALID_ARGUMENT', // ER_COLLATION_CHARSET_MISMATCH
  1193: 'AGENT_ERR_INVALID_ARGUMENT', // ER_UNKNOWN_SYSTEM_VARIABLE
  1231: 'AGENT_ERR_INVALID_ARGUMENT', // ER_WRONG_VALUE_FOR_VAR
  1232: 'AGENT_ERR_INVALID_ARGUMENT', // ER_WRONG_TYPE_FOR_VAR
  1141: 'AGENT_ERR_NOT_FOUND', // ER_NONEXISTING_GRANT
};

export class SqlClient {
  private pool: mysql.Pool | null = null;

  constructor(private readonly socketPath: string, private readonly user: string, private readonly password: () => string) {}

  open(): void {
    if (this.pool) return;
    this.pool = mysql.createPool({
      socketPath: this.socketPath,
      user: this.user,
      password: this.password(),
      connectionLimit: 4,
      multipleStatements: false,
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
      maxPreparedStatements: MAX_PREPARED_STATEMENTS,
    });
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    if (pool) await pool.end().catch(() => undefined);
  }

  async query(sql: string, values: unknown[] = []): Promise<Row[]> {
    if (!this.pool) this.open();
    try {
      const [rows] = await this.pool!.query(sql, values);
      return Array.isArray(rows) ? (rows as Row[]) : [];
    } catch (err) {
      throw translate(err);
    }
  }

  /** Runs statements on one connection in a transaction where the server allows. */
  async withConnection<T>(fn: (q: (sql: string, values?: unknown[]) => Promise<Row[]>) => Promise<T>): Promise<T> {
    if (!this.pool) this.open();
    const conn = await this.pool!.getConnection();
    try {
      return await fn(async (sql, values = []) => {
        try {
          const [rows] = await conn.query(sql, values);
          return Array.isArray(rows) ? (rows as Row[]) : [];
        } catch (err) {
          throw translate(err);
        }
      });
    } finally {
      conn.release();
    }
  }

  /**
   * Runs statements on one connection kept out of the binary log
   * (sql_log_bin = 0): what the agent writes for this instance alone. The
   * connection goes back to the pool only once logging is on again;
   * otherwise it is destroyed, so no later statement goes unlogged.
   */
  async unlogged<T>(fn: (q: (sql: string, values?: unknown[]) => Promise<Row[]>) => Promise<T>): Promise<T> {
    if (!this.pool) this.open();
    const conn = await this.pool!.getConnection();
    let restored = false;
    try {
      const q = async (sql: string, values: unknown[] = []): Promise<Row[]> => {
        try {
          const [rows] = await conn.query(sql, values);
          return Array.isArray(rows) ? (rows as Row[]) : [];
        } catch (err) {
          throw translate(err);
        }
      };
      await q('SET SESSION sql_log_bin = 0');
      const result = await fn(q);
      await q('SET SESSION sql_log_bin = 1');
      restored = true;
      return result;
    } finally {
      if (restored) conn.release();
      else conn.destroy();
    }
  }
}

export const escapeId = (name: string): string => mysql.escapeId(name, true);
export const escape = (value: string): string => mysql.escape(value);
/** 'name'@'host' with both parts escaped as string literals. */
export const account = (name: string, host: string): string => `${mysql.escape(name)}@${mysql.escape(host)}`;

function translate(err: unknown): Error {
  const e = err as { errno?: number; sqlMessage?: string; code?: string };
  if (typeof e?.errno === 'number' && CALLER_ERRORS[e.errno]) {
    return new AgentError(CALLER_ERRORS[e.errno]!, e.sqlMessage ?? String(err));
  }
  if (e?.code === 'ECONNREFUSED' || e?.code === 'ENOENT' || e?.code === 'PROTOCOL_CONNECTION_LOST') {
    return new AgentError('AGENT_ERR_NOT_READY', `the datastore is not answering (${e.code})`, { cause: err });
  }
  return new AgentError('AGENT_ERR_DATASTORE', `the datastore refused a statement: ${e?.sqlMessage ?? (err as Error)?.message ?? err}`, { cause: err });
}
