// SQL against a PostgreSQL server over its unix socket as the agent's role
// (peer authentication: the bench runs as root, which the instance's
// pg_ident.conf maps to coffer_admin), statements on stdin (never on argv:
// some hold a secret), and what the replication benches ask of it.
import { runWithInput } from './daemon.js';
import { PG_BIN } from '../pg-bin.js';

export interface PgServer {
  /** Its unix socket directory. */
  readonly socketDir: string;
  readonly port: number;
}

export async function pgSql(server: PgServer, statement: string, database = 'postgres'): Promise<string> {
  const r = await runWithInput(
    [`${PG_BIN}/psql`, '-X', '--quiet', '--no-align', '--tuples-only', '--set=ON_ERROR_STOP=1', '-h', server.socketDir, '-p', String(server.port), '-U', 'coffer_admin', '-d', database],
    statement,
    { env: { ...process.env, PGCONNECT_TIMEOUT: '5', LC_ALL: 'C.UTF-8' } },
  );
  if (r.code !== 0) throw new Error(`SQL on ${server.socketDir}:${server.port} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/**
 * True once the standby's WAL receiver is streaming and it has replayed
 * everything the source has written (LSNs compared as pg_lsn).
 */
export async function pgCaughtUp(source: PgServer, replica: PgServer): Promise<boolean> {
  const status = await pgSql(replica, 'SELECT status FROM pg_stat_wal_receiver');
  if (status !== 'streaming') return false;
  const lsn = await pgSql(source, 'SELECT pg_current_wal_lsn()');
  if (!/^[0-9A-F]+\/[0-9A-F]+$/.test(lsn)) throw new Error(`not an LSN: "${lsn}"`);
  return (await pgSql(replica, `SELECT pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn`)) === 't';
}
