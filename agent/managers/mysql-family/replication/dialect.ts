// The SQL of replication, per server: MariaDB's GTID replication (what runs
// here, for both the mariadb and the mysql managers, since these machines
// have only MariaDB binaries) and Oracle MySQL 8.0.23+'s (written, not run
// here: docs/replication.md says so). The capability (capability.ts) speaks
// only through this interface, and picks the dialect from the server's
// version string.
import type { Row } from '../sql-client.js';

export type DialectName = 'mariadb-gtid' | 'mysql-gtid';

/** What CHANGE MASTER / CHANGE REPLICATION SOURCE is given. */
export interface SourceTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** The deployment CA file, readable by the server's OS user. */
  readonly caFile: string;
}

/** SHOW SLAVE STATUS / SHOW REPLICA STATUS, named the same for both. */
export interface ReplicaThreads {
  readonly configured: boolean;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** Yes, No, Connecting ('' when not configured). */
  readonly ioRunning: string;
  readonly sqlRunning: string;
  /** null when the server cannot tell (a thread stopped). */
  readonly secondsBehind: number | null;
  readonly ioErrno: number;
  readonly ioError: string;
  readonly sqlErrno: number;
  readonly sqlError: string;
  /** Transactions received from the source (MariaDB Gtid_IO_Pos, MySQL Retrieved_Gtid_Set). */
  readonly received: string;
}

export interface Statement {
  readonly sql: string;
  readonly values?: unknown[];
}

export interface MysqlDialect {
  readonly name: DialectName;
  /** This server's latest transaction, its own and replicated ones. */
  readonly latestSql: string;
  /** What this server has in its own binary log. */
  readonly binlogPosSql: string;
  /** The replication state kept apart from the binary log (MariaDB gtid_slave_pos; MySQL: same as latest). */
  readonly appliedSql: string;
  readonly stop: string;
  readonly stopIo: string;
  readonly start: string;
  readonly resetAll: string;
  readonly showStatus: string;
  /** Sets where replication resumes; only with the replica threads stopped. binlogEmpty: nothing of this server's own in its binary log. */
  setPosition(position: string, binlogEmpty: boolean): Statement[];
  changeSource(t: SourceTarget): Statement;
  readOnly(on: boolean): Statement[];
  /** One row with column r: 0 when reached within the timeout (MASTER_GTID_WAIT / WAIT_FOR_EXECUTED_GTID_SET). */
  waitFor(position: string, timeoutSeconds: number): Statement;
  threads(row: Row | undefined): ReplicaThreads;
  /** Error numbers meaning the source will never serve this replica as it is (no retry helps). */
  readonly fatalIoErrors: ReadonlySet<number>;
}

const str = (v: unknown): string => (v === null || v === undefined ? '' : String(v));
const num = (v: unknown): number => (v === null || v === undefined || v === '' ? 0 : Number(v));

// ER_MASTER_FATAL_ERROR_READING_BINLOG (1236: the source lacks what the
// replica asks for, or the replica is ahead), ER_ACCESS_DENIED_ERROR (1045),
// CR_SSL_CONNECTION_ERROR (2026).
const FATAL_IO = new Set([1236, 1045, 2026]);

export const mariadbDialect: MysqlDialect = Object.freeze({
  name: 'mariadb-gtid' as const,
  latestSql: 'SELECT @@GLOBAL.gtid_current_pos AS p',
  binlogPosSql: 'SELECT @@GLOBAL.gtid_binlog_pos AS p',
  appliedSql: 'SELECT @@GLOBAL.gtid_slave_pos AS p',
  stop: 'STOP SLAVE',
  stopIo: 'STOP SLAVE IO_THREAD',
  start: 'START SLAVE',
  resetAll: 'RESET SLAVE ALL',
  showStatus: 'SHOW SLAVE STATUS',
  setPosition(position: string, binlogEmpty: boolean): Statement[] {
    // A restored copy has nothing in its binary log: give it the snapshot's
    // binlog state as well, so that once promoted it numbers its own
    // transactions after the source's and serves replicas that ask for
    // exactly that position (else MariaDB answers 1236).
    return [
      ...(binlogEmpty && position !== '' ? [{ sql: 'RESET MASTER' }, { sql: 'SET GLOBAL gtid_binlog_state = ?', values: [position] }] : []),
      { sql: 'SET GLOBAL gtid_slave_pos = ?', values: [position] },
    ];
  },
  changeSource(t: SourceTarget): Statement {
    return {
      sql: `CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?,
        MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 5,
        MASTER_SSL = 1, MASTER_SSL_CA = ?, MASTER_SSL_VERIFY_SERVER_CERT = 1`,
      values: [t.host, t.port, t.user, t.password, t.caFile],
    };
  },
  readOnly(on: boolean): Statement[] {
    return [{ sql: `SET GLOBAL read_only = ${on ? 'ON' : 'OFF'}` }];
  },
  waitFor(position: string, timeoutSeconds: number): Statement {
    return { sql: 'SELECT MASTER_GTID_WAIT(?, ?) AS r', values: [position, timeoutSeconds] };
  },
  threads(row: Row | undefined): ReplicaThreads {
    return {
      configured: !!row && str(row.Master_Host) !== '',
      host: str(row?.Master_Host),
      port: num(row?.Master_Port),
      user: str(row?.Master_User),
      ioRunning: str(row?.Slave_IO_Running),
      sqlRunning: str(row?.Slave_SQL_Running),
      secondsBehind: row?.Seconds_Behind_Master === null || row?.Seconds_Behind_Master === undefined ? null : Number(row.Seconds_Behind_Master),
      ioErrno: num(row?.Last_IO_Errno),
      ioError: str(row?.Last_IO_Error),
      sqlErrno: num(row?.Last_SQL_Errno),
      sqlError: str(row?.Last_SQL_Error),
      received: str(row?.Gtid_IO_Pos),
    };
  },
  fatalIoErrors: FATAL_IO,
});

// Oracle MySQL 8.0.23 and later. Untested on these machines (no MySQL
// binaries): see docs/replication.md.
export const mysqlDialect: MysqlDialect = Object.freeze({
  name: 'mysql-gtid' as const,
  latestSql: 'SELECT @@GLOBAL.gtid_executed AS p',
  binlogPosSql: 'SELECT @@GLOBAL.gtid_executed AS p',
  appliedSql: 'SELECT @@GLOBAL.gtid_executed AS p',
  stop: 'STOP REPLICA',
  stopIo: 'STOP REPLICA IO_THREAD',
  start: 'START REPLICA',
  resetAll: 'RESET REPLICA ALL',
  showStatus: 'SHOW REPLICA STATUS',
  setPosition(position: string, binlogEmpty: boolean): Statement[] {
    // MySQL resumes from gtid_executed (SOURCE_AUTO_POSITION): a restored
    // copy declares what the snapshot holds through gtid_purged, which needs
    // an empty gtid_executed. A server with history keeps its own.
    if (!binlogEmpty || position === '') return [];
    return [{ sql: 'RESET MASTER' }, { sql: 'SET GLOBAL gtid_purged = ?', values: [position] }];
  },
  changeSource(t: SourceTarget): Statement {
    return {
      sql: `CHANGE REPLICATION SOURCE TO SOURCE_HOST = ?, SOURCE_PORT = ?, SOURCE_USER = ?, SOURCE_PASSWORD = ?,
        SOURCE_AUTO_POSITION = 1, SOURCE_CONNECT_RETRY = 5,
        SOURCE_SSL = 1, SOURCE_SSL_CA = ?, SOURCE_SSL_VERIFY_SERVER_CERT = 1`,
      values: [t.host, t.port, t.user, t.password, t.caFile],
    };
  },
  readOnly(on: boolean): Statement[] {
    // super_read_only refuses SUPER / CONNECTION_ADMIN holders too, and
    // implies read_only; turning it off leaves read_only to turn off.
    return on ? [{ sql: 'SET GLOBAL super_read_only = ON' }] : [{ sql: 'SET GLOBAL super_read_only = OFF' }, { sql: 'SET GLOBAL read_only = OFF' }];
  },
  waitFor(position: string, timeoutSeconds: number): Statement {
    return { sql: 'SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?) AS r', values: [position, timeoutSeconds] };
  },
  threads(row: Row | undefined): ReplicaThreads {
    return {
      configured: !!row && str(row.Source_Host) !== '',
      host: str(row?.Source_Host),
      port: num(row?.Source_Port),
      user: str(row?.Source_User),
      ioRunning: str(row?.Replica_IO_Running),
      sqlRunning: str(row?.Replica_SQL_Running),
      secondsBehind: row?.Seconds_Behind_Source === null || row?.Seconds_Behind_Source === undefined ? null : Number(row.Seconds_Behind_Source),
      ioErrno: num(row?.Last_IO_Errno),
      ioError: str(row?.Last_IO_Error),
      sqlErrno: num(row?.Last_SQL_Errno),
      sqlError: str(row?.Last_SQL_Error),
      received: str(row?.Retrieved_Gtid_Set),
    };
  },
  fatalIoErrors: FATAL_IO,
});

/** From SELECT VERSION(): MariaDB says so in its version string; Oracle MySQL does not. */
export function dialectForVersion(version: string): MysqlDialect {
  return /mariadb/i.test(version) ? mariadbDialect : mysqlDialect;
}
