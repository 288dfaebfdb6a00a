// LagProbe (lag.ts) for MariaDB and PostgreSQL, through the drivers (mysql2,
// pg) rather than a client program per query, so a poll costs about a
// millisecond instead of a process start.
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { LagProbe } from './lag.js';
import { mariadbSql } from './mariadb-sql.js';
import type { PgServer } from './pg-sql.js';
import { until } from './daemon.js';

/** Table bench.lag on the source (replicated), and an account that reads it on the replica. */
export async function mariadbLagProbe(sourceSocket: string, replicaSocket: string): Promise<LagProbe> {
  const password = randomBytes(18).toString('base64url');
  await mariadbSql(sourceSocket, `CREATE DATABASE IF NOT EXISTS bench; DROP TABLE IF EXISTS bench.lag; CREATE TABLE bench.lag (id INT PRIMARY KEY, written_at BIGINT NOT NULL) ENGINE=InnoDB;\nCREATE OR REPLACE USER bench_lag@localhost IDENTIFIED BY '${password}'; GRANT ALL ON bench.* TO bench_lag@localhost;`);
  const src = await mysql.createConnection({ socketPath: sourceSocket, user: 'bench_lag', password, database: 'bench' });
  const rep = await until('the lag table and account on the replica', async () => {
    try {
      const c = await mysql.createConnection({ socketPath: replicaSocket, user: 'bench_lag', password, database: 'bench' });
      await c.query('SELECT 1 FROM lag LIMIT 1');
      return c;
    } catch {
      return undefined;
    }
  }, 60_000);
  return {
    async write(id, writtenAt) {
      await src.execute('INSERT INTO lag VALUES (?, ?)', [id, writtenAt]);
    },
    async newest() {
      const [rows] = await rep.query('SELECT id, written_at FROM lag ORDER BY id DESC LIMIT 1');
      const r = (rows as Array<{ id: number; written_at: string | number }>)[0];
      return r ? { id: Number(r.id), writtenAt: Number(r.written_at) } : null;
    },
    async close() {
      await src.end();
      await rep.end();
    },
  };
}

/** Table lag in database bench on the source; both sides as the agent's role by peer over the socket (the bench runs as root). */
export async function pgLagProbe(source: PgServer, replica: PgServer): Promise<LagProbe> {
  const connect = async (s: PgServer) => {
    const c = new pg.Client({ host: s.socketDir, port: s.port, user: 'coffer_admin', database: 'bench' });
    await c.connect();
    return c;
  };
  const src = await connect(source);
  await src.query('DROP TABLE IF EXISTS lag; CREATE TABLE lag (id int PRIMARY KEY, written_at bigint NOT NULL)');
  const rep = await until('the lag table on the replica', async () => {
    const c = await connect(replica);
    try {
      await c.query('SELECT 1 FROM lag LIMIT 1');
      return c;
    } catch {
      await c.end();
      return undefined;
    }
  }, 60_000);
  return {
    async write(id, writtenAt) {
      await src.query('INSERT INTO lag VALUES ($1, $2)', [id, writtenAt]);
    },
    async newest() {
      const r = await rep.query<{ id: number; written_at: string }>('SELECT id, written_at FROM lag ORDER BY id DESC LIMIT 1');
      const row = r.rows[0];
      return row ? { id: Number(row.id), writtenAt: Number(row.written_at) } : null;
    },
    async close() {
      await src.end();
      await rep.end();
    },
  };
}
