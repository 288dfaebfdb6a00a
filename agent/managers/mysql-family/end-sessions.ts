// Ending the open sessions of accounts: a session keeps the privileges it
// logged in with, and dropping or stripping an account does not touch the
// sessions it already has (a replica's replication connection, the source's
// Binlog Dump thread, streams on until the next login). Idempotent: a
// session that ended meanwhile is what was wanted.
import type { Logger } from '../../../lib/logger.js';
import type { SqlClient } from './sql-client.js';

const ER_NO_SUCH_THREAD = 1094;

/** KILL CONNECTION of every session of `users` (any host) but the caller's own; how many were ended. */
export async function endSessionsOf(sql: SqlClient, log: Logger, users: readonly string[]): Promise<number> {
  if (users.length === 0) return 0;
  const rows = await sql.query('SELECT ID AS id, USER AS user FROM information_schema.PROCESSLIST WHERE USER IN (?) AND ID <> CONNECTION_ID()', [users]);
  let ended = 0;
  for (const r of rows) {
    try {
      await sql.query(`KILL CONNECTION ${Number(r.id)}`);
      ended++;
    } catch (err) {
      const errno = ((err as Error).cause as { errno?: number } | undefined)?.errno;
      if (errno === ER_NO_SUCH_THREAD) continue;
      log.warn({ user: r.user, connection: Number(r.id), err: (err as Error).message }, 'a session of the account could not be ended');
    }
  }
  return ended;
}
