// Renders the server's three configuration files from the agent's template
// plus the overrides. postgres is started with --config-file pointing here,
// and hba_file/ident_file point here too: the copies initdb (or a restored
// backup) leaves in the data directory are never read.
import path from 'node:path';
import { ADMIN_IDENT_MAP, ADMIN_ROLE, AGENT_OS_USER, REPLICATION_ROLE } from './constants.js';

export interface ConfInput {
  readonly dataDir: string;
  readonly etcDir: string;
  readonly runDir: string;
  readonly port: number;
  readonly bindAddress: string;
  /** Validated and normalised (../configuration/rules.ts): known names, values without control characters. */
  readonly overrides: Readonly<Record<string, string>>;
  /** The server's certificate and key: TLS offered to clients (../server-tls.ts). */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  /**
   * Continuous archiving (archive/, docs/pitr.md): WAL handed to the agent
   * by this command, and a segment switched after this many seconds on a
   * quiet server (0: never).
   */
  readonly archive?: { readonly enabled: boolean; readonly command: string; readonly timeoutSeconds: number };
}

export const confFile = (etcDir: string): string => path.join(etcDir, 'postgresql.conf');
export const hbaFile = (etcDir: string): string => path.join(etcDir, 'pg_hba.conf');
export const identFile = (etcDir: string): string => path.join(etcDir, 'pg_ident.conf');
/**
 * What the replication capability renders (replication/settings.ts): the
 * source a standby follows and the write fence. Included last, so it wins;
 * absent on an instance that never replicated.
 */
export const replicationConfFile = (etcDir: string): string => path.join(etcDir, 'replication.conf');
/** A restore to a point's recovery settings (archive/recovery.ts); present only while that replay runs. */
export const recoveryTargetConfFile = (etcDir: string): string => path.join(etcDir, 'recovery-target.conf');

/** A value as a postgresql.conf string literal. */
export function confLiteral(value: string): string {
  // A newline would end the setting and start a new one: the one way to
  // inject a directive. Validation refuses these earlier; this is the last
  // line of defence, at the place where it would matter.
  if (/[\x00-\x1f\x7f]/.test(value)) throw new Error('refusing to render a control character into postgresql.conf');
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

export function renderPostgresqlConf(input: ConfInput): string {
  const lines = [
    '# Rendered by coffer-agent from its template and the overrides below.',
    '# Change configuration through the agent (UpdateOverrides), not here.',
    `data_directory = ${confLiteral(input.dataDir)}`,
    `hba_file = ${confLiteral(hbaFile(input.etcDir))}`,
    `ident_file = ${confLiteral(identFile(input.etcDir))}`,
    `listen_addresses = ${confLiteral(input.bindAddress)}`,
    `port = ${input.port}`,
    `unix_socket_directories = ${confLiteral(input.runDir)}`,
    // Who may connect is pg_hba.conf's decision; the socket itself is open.
    "unix_socket_permissions = 0777",
    "password_encryption = 'scram-sha-256'",
    // What pg_basebackup and streaming replication need: WAL for a
    // standby, senders and slots for up to three replicas plus backups, and
    // a standby that serves reads. wal_keep_size is a modest cushion for a
    // replica briefly without its slot (re-pointed); each replica's slot
    // (replication/) is what really keeps its WAL. Page checksums (initdb
    // --data-checksums, datadir.ts) let pg_rewind demote an old primary.
    "wal_level = 'replica'",
    'max_wal_senders = 10',
    'max_replication_slots = 10',
    'hot_standby = on',
    "wal_keep_size = '256MB'",
    // A standby that fell behind follows the new source's timeline.
    "recovery_target_timeline = 'latest'",
    // Small defaults: an instance's flavor sets these through overrides.
    'max_connections = 100',
    "shared_buffers = '128MB'",
    "dynamic_shared_memory_type = 'posix'",
    // The server logs to stderr, which the agent reads into its own log.
    "log_destination = 'stderr'",
    'logging_collector = off',
    "log_line_prefix = '%m [%p] %q%u@%d '",
    "lc_messages = 'C'",
    "timezone = 'UTC'",
    "log_timezone = 'UTC'",
    ...(input.archive
      ? [
          // On only while archiving is: with it on, every shutdown switches
          // to a new WAL segment, which a switchover's pg_rewind would see
          // as divergence (replication/rewind.ts). Changing it takes a
          // restart, which ConfigureArchiving does.
          `archive_mode = ${input.archive.enabled ? 'on' : 'off'}`,
          `archive_command = ${confLiteral(input.archive.command)}`,
          `archive_timeout = ${Math.max(0, Math.floor(input.archive.timeoutSeconds))}`,
        ]
      : []),
    ...(input.tls
      ? ['ssl = on', `ssl_cert_file = ${confLiteral(input.tls.certFile)}`, `ssl_key_file = ${confLiteral(input.tls.keyFile)}`, "ssl_min_protocol_version = 'TLSv1.2'"]
      : []),
    '',
    '# Overrides',
  ];
  for (const [name, value] of Object.entries(input.overrides).sort(([a], [b]) => a.localeCompare(b))) {
    if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new Error(`refusing to render parameter name ${JSON.stringify(name)}`);
    lines.push(`${name} = ${confLiteral(value)}`);
  }
  lines.push('', '# Replication: the source followed, the write fence (rendered by the agent)', `include_if_exists = ${confLiteral(replicationConfFile(input.etcDir))}`);
  lines.push('# A restore to a point while it replays (rendered by the agent)', `include_if_exists = ${confLiteral(recoveryTargetConfFile(input.etcDir))}`);
  return lines.join('\n') + '\n';
}

/**
 * Who may connect, and how. The first matching line decides.
 *
 * The agent's admin role uses peer authentication over the socket, mapped
 * from the OS user root only, rather than a password kept in a 0600 file:
 * the agent runs as root, and a file readable by root protects nothing from
 * root, while it is one more secret to leak (in copies of the base dir, in a
 * backup of /var/lib). Peer identity comes from the kernel (SO_PEERCRED),
 * cannot be replayed, and does not exist over TCP, where the role is
 * rejected outright. Everyone else uses scram-sha-256; nothing is trust.
 *
 * The replication role comes in over TLS only (a plaintext attempt is
 * rejected, never asked for a password): for streaming, and to the
 * postgres database for pg_rewind (which reads the source's files through
 * SQL functions, replication/role.ts). It may not log into anything else.
 *
 * Fenced (replication/fence.ts): the instance refuses every client but the
 * agent and its replicas. The write fence of a primary that may no longer
 * be the source: default_transaction_read_only alone would not hold, since
 * any session may SET it back.
 */
export function renderPgHba(opts: { readonly fenced?: boolean } = {}): string {
  const agent = [
    '# Rendered by coffer-agent. TYPE DATABASE USER ADDRESS METHOD',
    `local all ${ADMIN_ROLE} peer map=${ADMIN_IDENT_MAP}`,
    `local replication ${ADMIN_ROLE} peer map=${ADMIN_IDENT_MAP}`,
    `host all ${ADMIN_ROLE} all reject`,
    `hostnossl all ${REPLICATION_ROLE} all reject`,
    `hostnossl replication all all reject`,
    `hostssl replication ${REPLICATION_ROLE} all scram-sha-256`,
    `hostssl postgres ${REPLICATION_ROLE} all scram-sha-256`,
    `host all ${REPLICATION_ROLE} all reject`,
    `local all ${REPLICATION_ROLE} reject`,
    'host replication all all reject',
  ];
  const clients = opts.fenced
    ? ['# Fenced: no client until the agent lifts it.', 'local all all reject', 'host all all all reject']
    : ['local all all scram-sha-256', 'host all all 0.0.0.0/0 scram-sha-256', 'host all all ::/0 scram-sha-256'];
  return [...agent, ...clients, ''].join('\n');
}

export function renderPgIdent(): string {
  return ['# Rendered by coffer-agent. MAPNAME SYSTEM-USERNAME PG-USERNAME', `${ADMIN_IDENT_MAP} ${AGENT_OS_USER} ${ADMIN_ROLE}`, ''].join('\n');
}
