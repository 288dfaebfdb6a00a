// Renders the server's option file from the agent's template plus the
// overrides. The server reads only this file (--defaults-file), never
// /etc/mysql, so what the agent renders is all that applies.
import path from 'node:path';
import { generalLogFile, slowLogFile } from './logs.js';

export interface MyCnfInput {
  readonly dataDir: string;
  readonly runDir: string;
  /** Where the general and slow query logs go (logs.ts). */
  readonly logDir: string;
  readonly tmpDir: string;
  readonly port: number;
  readonly bindAddress: string;
  /** Validated and normalised (../configuration/rules.ts): plain names, values without control characters. */
  readonly overrides: Readonly<Record<string, string>>;
  /** The server's certificate and key: TLS offered to clients (../server-tls.ts). */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  /** Unique per instance (server-id.ts): GTIDs and replication tell servers apart by it. */
  readonly serverId: number;
  /** Start refusing writes (a replica, or a fenced source): replication/read-only.ts. */
  readonly readOnly?: boolean;
  /** A cluster member's settings (galera/settings.ts), rendered after the template's. */
  readonly cluster?: readonly string[];
}

export const socketPath = (runDir: string): string => path.join(runDir, 'mysqld.sock');

function serverId(id: number): number {
  if (!Number.isInteger(id) || id < 1 || id > 0xffffffff) throw new Error(`server_id ${id} is not an integer 1-4294967295`);
  return id;
}

export function renderMyCnf(input: MyCnfInput): string {
  const lines = [
    '# Rendered by coffer-agent from its template and the overrides below.',
    '# Change configuration through the agent (UpdateOverrides), not here.',
    '[client-server]',
    `socket = ${socketPath(input.runDir)}`,
    `port = ${input.port}`,
    '',
    '[mysqld]',
    `datadir = ${input.dataDir}`,
    `pid-file = ${path.join(input.runDir, 'mysqld.pid')}`,
    // Each instance its own temporary directory: a starting server removes
    // the #sql* files it finds in its tmpdir, and with a shared /tmp those
    // can be another instance's live temporary tables.
    `tmpdir = ${input.tmpDir}`,
    `bind-address = ${input.bindAddress}`,
    // Accounts match by address, so 'root'@'%' is what a TCP client gets.
    'skip-name-resolve',
    'character-set-server = utf8mb4',
    'collation-server = utf8mb4_general_ci',
    // Small defaults: an instance's flavor sets these through overrides.
    'innodb_buffer_pool_size = 128M',
    'max_connections = 151',
    // The general and slow query logs, off until enabled (general_log,
    // slow_query_log overrides: agent/logs/), go to files the agent reads.
    'log_output = FILE',
    `general_log_file = ${generalLogFile(input.logDir)}`,
    `slow_query_log_file = ${slowLogFile(input.logDir)}`,
    // The binary log with row events and a server id of its own: what GTID
    // replication and point-in-time recovery build on. Every instance logs,
    // a replica what it applies too (log_slave_updates), so any of them can
    // become a source without a restart.
    `server_id = ${serverId(input.serverId)}`,
    'log_bin = mysql-bin',
    'binlog_format = ROW',
    'log_slave_updates = ON',
    // The agent purges binary logs, never the server: a file goes only once
    // it is archived (point-in-time recovery) and 7 days old
    // (archive/binlog-archiver.ts); the server's own expiry knows nothing
    // of the archive.
    'expire_logs_days = 0',
    // Relay logs under the data dir, named apart from the host name (which
    // a restored copy does not share).
    'relay_log = relay-bin',
    'relay_log_index = relay-bin.index',
    'relay_log_recovery = ON',
    // A transaction a replica has that its source never sent (errant) stops
    // replication instead of being silently mixed in.
    // (Not in a Galera cluster: galera/settings.ts says why.)
    ...(input.cluster ? [] : ['gtid_strict_mode = ON']),
    // Oracle MySQL's GTID switches (untested here: docs/replication.md);
    // loose- makes MariaDB pass over them.
    'loose-gtid_mode = ON',
    'loose-enforce_gtid_consistency = ON',
    // A replica or a fenced source starts refusing writes, before any
    // client can connect.
    ...(input.readOnly ? ['read_only = ON'] : []),
    // TLS offered to clients that ask for it (REQUIRE SSL per account, or a
    // client's --ssl-verify-server-cert, decides whether it is used).
    ...(input.tls ? [`ssl-cert = ${input.tls.certFile}`, `ssl-key = ${input.tls.keyFile}`, 'tls_version = TLSv1.2,TLSv1.3'] : []),
    ...(input.cluster ? ['', '# Cluster member', ...input.cluster] : []),
    '',
    '# Overrides',
  ];
  for (const [name, value] of Object.entries(input.overrides).sort(([a], [b]) => a.localeCompare(b))) {
    // The last line of defence behind the rules engine: a plain name and a
    // string value without control characters, or no option file at all.
    if (!/^[a-z][a-z0-9_]*$/.test(name) || typeof value !== 'string' || /[\x00-\x1f\x7f]/.test(value)) {
      throw new Error(`refusing to render ${JSON.stringify(name.slice(0, 64))}: not a plain setting`);
    }
    lines.push(`${name} = ${value}`);
  }
  return lines.join('\n') + '\n';
}
