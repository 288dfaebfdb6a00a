// A small MariaDB dataset made and checked through the real client: tables
// of several engines and shapes, and CHECKSUM TABLE over every table, which
// is what "the restored data equals the source" means in these tests.
import path from 'node:path';
import { mariadbSocket } from './mariadb-client.js';

export const socketOf = (baseDir: string): string => path.join(baseDir, 'run', 'mysqld.sock');

async function sql(baseDir: string, statement: string): Promise<string> {
  const r = await mariadbSocket(socketOf(baseDir), statement);
  if (r.code !== 0) throw new Error(`SQL failed (${r.code}): ${r.stderr}\n${statement.slice(0, 200)}`);
  return r.stdout;
}

/** Creates database `db` with `rows` rows in two tables and a view. */
export async function seed(baseDir: string, db: string, rows: number): Promise<void> {
  await sql(
    baseDir,
    [
      `CREATE DATABASE IF NOT EXISTS ${db}`,
      `CREATE TABLE ${db}.orders (id INT PRIMARY KEY, customer VARCHAR(64), total DECIMAL(10,2), note TEXT) ENGINE=InnoDB`,
      `INSERT INTO ${db}.orders SELECT seq, CONCAT('customer-', seq % 97), seq * 1.25, REPEAT(MD5(seq), 4) FROM ${db}.seq_1_to_${rows}`,
      `CREATE TABLE ${db}.audit (id BIGINT AUTO_INCREMENT PRIMARY KEY, at DATETIME, what VARCHAR(200)) ENGINE=InnoDB`,
      `INSERT INTO ${db}.audit (at, what) SELECT '2026-01-01' + INTERVAL seq MINUTE, CONCAT('event ', seq) FROM ${db}.seq_1_to_${Math.ceil(rows / 2)}`,
      `CREATE VIEW ${db}.big_orders AS SELECT id, total FROM ${db}.orders WHERE total > 100`,
    ].join(';\n'),
  );
}

export async function addRows(baseDir: string, db: string, from: number, count: number): Promise<void> {
  await sql(baseDir, `INSERT INTO ${db}.orders SELECT seq, 'late', seq, 'x' FROM ${db}.seq_${from}_to_${from + count - 1}; DELETE FROM ${db}.audit WHERE id % 10 = 0`);
}

/** "db.table checksum" for every base table of the given databases. */
export async function checksums(baseDir: string, dbs: string[]): Promise<string> {
  const tables = (await sql(baseDir, `SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_TYPE='BASE TABLE' AND TABLE_SCHEMA IN (${dbs.map((d) => `'${d}'`).join(',')}) ORDER BY 1`))
    .trim()
    .split('\n')
    .filter(Boolean);
  if (tables.length === 0) return '';
  return (await sql(baseDir, `CHECKSUM TABLE ${tables.join(', ')} EXTENDED`)).trim();
}

export async function count(baseDir: string, table: string): Promise<number> {
  return Number((await sql(baseDir, `SELECT COUNT(*) FROM ${table}`)).trim());
}
