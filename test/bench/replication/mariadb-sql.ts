// SQL against a MariaDB server over its unix socket as the OS root
// (unix_socket authentication), statements on stdin (never on argv: some
// hold a replication secret), and what the replication benches ask of it.
import { runWithInput } from './daemon.js';

/** Tab-separated rows without column names; `vertical`: "name: value" lines (--vertical). */
export async function mariadbSql(socket: string, statement: string, opts: { vertical?: boolean } = {}): Promise<string> {
  const r = await runWithInput(['mariadb', '--no-defaults', `--socket=${socket}`, '--user=root', '--batch', ...(opts.vertical ? ['--vertical'] : ['--skip-column-names'])], statement);
  if (r.code !== 0) throw new Error(`SQL on ${socket} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** SHOW SLAVE STATUS as field -> value; empty when the server follows no source. */
export async function slaveStatus(socket: string): Promise<Record<string, string>> {
  const out = await mariadbSql(socket, 'SHOW SLAVE STATUS', { vertical: true });
  const fields: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const m = /^\s*([A-Za-z_]+):\s?(.*)$/.exec(line);
    if (m) fields[m[1]!] = m[2]!;
  }
  return fields;
}

/**
 * True once the replica's IO and SQL threads both run and it has applied
 * everything the source has logged (MASTER_GTID_WAIT with no wait: 0 when
 * the position is reached, -1 otherwise; GTIDs compared as the server
 * orders them).
 */
export async function mariadbCaughtUp(sourceSocket: string, replicaSocket: string): Promise<boolean> {
  const s = await slaveStatus(replicaSocket);
  if (s.Slave_IO_Running !== 'Yes' || s.Slave_SQL_Running !== 'Yes') return false;
  const pos = (await mariadbSql(sourceSocket, 'SELECT @@GLOBAL.gtid_binlog_pos')).trim();
  const waited = (await mariadbSql(replicaSocket, `SELECT MASTER_GTID_WAIT('${pos.replace(/[^0-9,-]/g, '')}', 0)`)).trim();
  return waited === '0';
}

/** The GTID position a prepared mariadb-backup copy ends at (xtrabackup_binlog_info, as MariaDB 10.11's mariadb-backup names it: file, offset, GTID). */
export function gtidOfBinlogInfo(text: string): string {
  const gtid = text.trim().split(/\s+/)[2];
  if (!gtid || !/^\d+-\d+-\d+(,\d+-\d+-\d+)*$/.test(gtid)) throw new Error(`no GTID position in xtrabackup_binlog_info: "${text.trim()}"`);
  return gtid;
}
