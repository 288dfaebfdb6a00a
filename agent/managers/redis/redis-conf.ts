// Renders redis.conf from the agent's template plus the overrides. The
// server reads only this file (its path is redis-server's one argument),
// never /etc/redis, so what the agent renders is all that applies; the agent
// re-renders it on every configuration change instead of letting Redis
// rewrite it (CONFIG REWRITE), so it stays the source of truth.
import type { RedisPaths } from './paths.js';
import { DUMP_NAME } from './paths.js';
import type { RedisTlsFiles } from './tls-files.js';

export interface RedisConfInput {
  readonly paths: RedisPaths;
  readonly dataDir: string;
  readonly port: number;
  readonly bindAddress: string;
  /**
   * The serving pair and the deployment's CA (tls-files.ts), or undefined:
   * then the port is plaintext, as without TLS material.
   */
  readonly tls?: RedisTlsFiles;
  /** Validated and normalised (../configuration/rules.ts): plain names, values without control characters. */
  readonly overrides: Readonly<Record<string, string>>;
  /** A Redis Cluster member's settings (cluster/settings.ts), after the overrides. */
  readonly cluster?: readonly string[];
}

/**
 * Tunables the template sets where Redis's own default is not what a DBaaS
 * wants. Overrides may change each; a reset goes back to these.
 */
export const TEMPLATE_SETTINGS: Readonly<Record<string, string>> = Object.freeze({
  // Durability: an append-only log fsynced every second, plus snapshots
  // (the RDB is also what backups stream).
  appendonly: 'yes',
  appendfsync: 'everysec',
  save: '3600 1 300 100 60 10000',
  // A data store, not a cache, until the user says otherwise: refuse writes
  // at maxmemory rather than silently evict.
  'maxmemory-policy': 'noeviction',
  'tcp-keepalive': '300',
  timeout: '0',
});

export function renderRedisConf(input: RedisConfInput): string {
  const { paths } = input;
  const lines = [
    '# Rendered by coffer-agent from its template and the overrides below.',
    '# Change configuration through the agent (UpdateOverrides), not here.',
    `bind ${input.bindAddress}`,
    ...listenLines(input),
    // With the default user disabled or password-protected this never bites;
    // it stays on as a second line of defence.
    'protected-mode yes',
    // The agent's way in. 700: only redis itself and root (the agent).
    `unixsocket ${paths.socket}`,
    'unixsocketperm 700',
    `dir ${input.dataDir}`,
    `dbfilename ${DUMP_NAME}`,
    'appenddirname appendonlydir',
    'aof-use-rdb-preamble yes',
    'rdbcompression yes',
    // Backups and restores rely on the RDB checksum (redis-check-rdb).
    'rdbchecksum yes',
    'stop-writes-on-bgsave-error yes',
    // Accounts live in the ACL file, changed with ACL SETUSER + ACL SAVE.
    `aclfile ${paths.aclFile}`,
    // The supervisor owns the process: foreground, log to stdout (its log).
    'daemonize no',
    'supervised no',
    'logfile ""',
    'always-show-logo no',
    // dir/dbfilename and the DEBUG and MODULE commands cannot be reached
    // from a client, whatever its ACL (Redis 7's defaults, stated here).
    'enable-protected-configs no',
    'enable-debug-command no',
    'enable-module-command no',
    '',
    '# Settings (template, then overrides)',
  ];
  const settings: Record<string, string> = { ...TEMPLATE_SETTINGS, ...input.overrides };
  for (const [name, value] of Object.entries(settings).sort(([a], [b]) => a.localeCompare(b))) {
    if (!/^[a-z][a-z0-9-]*$/.test(name) || /[\r\n"\\]/.test(value)) throw new Error(`refusing to render ${JSON.stringify(name)}: not a plain setting`);
    // Quoted: an empty value ("save" off) and multi-word values stay one argument.
    lines.push(`${name} "${value}"`);
  }
  if (input.cluster) lines.push('', '# Cluster member (rendered by the agent)', ...input.cluster);
  // Last, so it wins: whom this instance follows and whether it refuses
  // writes (replication/replication-conf.ts), kept where only redis reads it.
  lines.push('', '# Replication (rendered by the agent; holds masterauth, so 0600)', `include ${paths.replicationConf}`);
  return lines.join('\n') + '\n';
}

/**
 * The one TCP port: TLS when the agent has the datastore's serving pair,
 * and then no plaintext port at all (`port 0`). Redis's ACLs cannot tell a
 * TLS connection from a plaintext one, so "no plaintext login" holds only
 * because there is no plaintext listener; Redis cannot serve both on one
 * port, and an instance has one. Clients authenticate with ACL passwords,
 * not certificates (`tls-auth-clients no`): the certificate proves the
 * server to them. With the deployment's CA, replication to a source is TLS
 * too, verified against it (`tls-replication yes`); Redis 7.0 checks the
 * chain, not the name in the certificate (docs/replication.md).
 */
function listenLines(input: RedisConfInput): string[] {
  const { tls } = input;
  if (!tls) return [`port ${input.port}`];
  for (const f of [tls.certFile, tls.keyFile, tls.caFile ?? '', tls.clientCertFile ?? '', tls.clientKeyFile ?? '']) {
    if (/[\s"'\\]/.test(f)) throw new Error(`refusing to render the TLS file path ${JSON.stringify(f)}: it holds spaces, quotes or backslashes`);
  }
  const lines = ['port 0', `tls-port ${input.port}`, `tls-cert-file ${tls.certFile}`, `tls-key-file ${tls.keyFile}`, 'tls-auth-clients no'];
  if (tls.caFile) lines.push(`tls-ca-cert-file ${tls.caFile}`, 'tls-replication yes');
  // Redis Cluster's bus verifies the connecting node's certificate as a
  // client's: the peer pair (clientAuth), not the serving one (serverAuth only).
  if (tls.clientCertFile && tls.clientKeyFile) lines.push(`tls-client-cert-file ${tls.clientCertFile}`, `tls-client-key-file ${tls.clientKeyFile}`);
  return lines;
}
