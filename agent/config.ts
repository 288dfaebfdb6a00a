// Agent configuration: a JSON file plus command-line flags, compiled once at
// start into a frozen object. Nothing reads configuration after start-up.
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { isIP } from 'node:net';
import { socketRoomProblem } from './layout.js';
import { compileBackupSettings, type BackupOptions, type CompiledBackupSettings } from './backup/backup-settings.js';

/** What the JSON file (and the flags) may say. Every field is optional. */
export interface AgentOptions {
  /** This instance's id (the control's; "standalone" when run by hand). */
  instanceId?: string;
  /** gRPC listen address, HOST:PORT. Default 127.0.0.1:8790. */
  listen?: string;
  /** Datastore manager name: mariadb, mysql, ... */
  datastore?: string;
  datastoreVersion?: string;
  /** Data, config, run files and the agent's own state live under it. */
  baseDir?: string;
  /** TCP port of the datastore. Default: the datastore's usual port. */
  datastorePort?: number;
  /** Address the datastore binds. Default 127.0.0.1. */
  datastoreBind?: string;
  /** Plaintext gRPC; refused unless the listen address is loopback. */
  insecure?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  logLevel?: string;
  /** Backup storage and key (see backup/backup-settings.ts). */
  backup?: BackupOptions;
  /** Flag shortcut: local backup directory. */
  backupDir?: string;
  /** Flag shortcut: the wrapping key file. */
  backupKeyFile?: string;
  // Added for coffer-control (issue 5): where the conductor listens
  // (HOST:PORT), how often to report, and a log file for agents that outlive
  // the process that started them (the local compute driver).
  /** The control's conductor, HOST:PORT. Heartbeats are sent only when set; needs mutual TLS. */
  controlEndpoint?: string;
  /** Seconds between heartbeats. Default 10. */
  heartbeatSeconds?: number;
  /** Write logs to this file instead of stdout. */
  logFile?: string;
}

export interface CompiledAgentConfig {
  readonly instanceId: string;
  readonly listenHost: string;
  readonly listenPort: number;
  readonly datastore: string;
  readonly datastoreVersion: string;
  readonly baseDir: string;
  readonly datastorePort: number;
  readonly datastoreBind: string;
  readonly tls: Readonly<{ cert: string; key: string; ca: string }> | null;
  readonly logLevel: string;
  readonly backup: CompiledBackupSettings;
  /** Added for coffer-control: null when no conductor is configured. */
  readonly control: Readonly<{ host: string; port: number; heartbeatMs: number }> | null;
  readonly logFile: string | null;
}

/** What a datastore contributes to configuration: its name, versions, port. */
export interface DatastoreDefaults {
  readonly versions: readonly string[];
  readonly defaultVersion: string;
  readonly defaultPort: number;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export const DEFAULT_CONFIG_PATH = '/etc/coffer/agent.json';
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Reads the JSON file. A missing default file is fine; a missing named file is not. */
export function readConfigFile(file: string, explicit: boolean): AgentOptions {
  if (!existsSync(file)) {
    if (explicit) throw new ConfigError(`config file ${file} does not exist`);
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`config file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${file} must hold a JSON object`);
  }
  return parsed as AgentOptions;
}

const KNOWN_KEYS = new Set<keyof AgentOptions>([
  'instanceId', 'listen', 'datastore', 'datastoreVersion', 'baseDir', 'datastorePort',
  'datastoreBind', 'insecure', 'tlsCert', 'tlsKey', 'tlsCa', 'logLevel', 'backup', 'backupDir', 'backupKeyFile',
  // coffer-control additions:
  'controlEndpoint', 'heartbeatSeconds', 'logFile',
]);

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/** Parses HOST:PORT (IPv6 as [::1]:PORT). */
export function parseHostPort(value: string, what: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(value) ?? /^([^:[\]]+):(\d+)$/.exec(value);
  if (!m) throw new ConfigError(`${what} must be HOST:PORT (IPv6 as [::1]:PORT), got "${value}"`);
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`${what} port must be 0-65535, got "${m[2]}"`);
  }
  return { host: m[1]!, port };
}

function str(opts: AgentOptions, key: keyof AgentOptions): string | undefined {
  const v = opts[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw new ConfigError(`${key} must be a non-empty string`);
  return v;
}

/**
 * Compiles options (file values overridden by flags) into the frozen config.
 * Every error names the field and what would be accepted.
 */
export function compileAgentConfig(
  fileOpts: AgentOptions,
  flagOpts: AgentOptions,
  datastores: ReadonlyMap<string, DatastoreDefaults>,
): CompiledAgentConfig {
  for (const key of Object.keys(fileOpts)) {
    if (!KNOWN_KEYS.has(key as keyof AgentOptions)) {
      throw new ConfigError(`unknown config key "${key}"; known keys: ${[...KNOWN_KEYS].join(', ')}`);
    }
  }
  const opts: AgentOptions = { ...fileOpts };
  for (const [k, v] of Object.entries(flagOpts)) {
    if (v !== undefined) (opts as Record<string, unknown>)[k] = v;
  }

  const datastore = str(opts, 'datastore') ?? 'mariadb';
  const defaults = datastores.get(datastore);
  if (!defaults) {
    throw new ConfigError(`datastore "${datastore}" is not known; choose one of: ${[...datastores.keys()].join(', ')}`);
  }
  const datastoreVersion = str(opts, 'datastoreVersion') ?? defaults.defaultVersion;
  if (!defaults.versions.includes(datastoreVersion)) {
    throw new ConfigError(
      `datastore version "${datastoreVersion}" is not supported for ${datastore}; supported: ${defaults.versions.join(', ')}`,
    );
  }

  const listen = parseHostPort(str(opts, 'listen') ?? '127.0.0.1:8790', 'listen');

  const baseDirRaw = str(opts, 'baseDir') ?? '/var/lib/coffer';
  const baseDir = path.resolve(baseDirRaw);
  const tooLong = socketRoomProblem(baseDir);
  if (tooLong) throw new ConfigError(tooLong);

  let datastorePort = defaults.defaultPort;
  if (opts.datastorePort !== undefined) {
    const p = Number(opts.datastorePort);
    if (!Number.isInteger(p) || p < 1 || p > 65535) {
      throw new ConfigError(`datastorePort must be an integer 1-65535, got "${opts.datastorePort}"`);
    }
    datastorePort = p;
  }
  const datastoreBind = str(opts, 'datastoreBind') ?? '127.0.0.1';
  if (isIP(datastoreBind) === 0) {
    throw new ConfigError(`datastoreBind must be an IP address, got "${datastoreBind}"`);
  }

  const tlsFiles = { cert: str(opts, 'tlsCert'), key: str(opts, 'tlsKey'), ca: str(opts, 'tlsCa') };
  const given = Object.values(tlsFiles).filter((v) => v !== undefined).length;
  let tls: CompiledAgentConfig['tls'] = null;
  if (given > 0 && given < 3) {
    throw new ConfigError('mutual TLS needs all three of --tls-cert, --tls-key and --tls-ca');
  }
  if (given === 3) {
    for (const [k, f] of Object.entries(tlsFiles)) {
      if (!existsSync(f!)) throw new ConfigError(`TLS ${k} file ${f} does not exist`);
    }
    tls = Object.freeze({ cert: tlsFiles.cert!, key: tlsFiles.key!, ca: tlsFiles.ca! });
    if (opts.insecure) throw new ConfigError('--insecure and --tls-* exclude each other; choose one');
  } else if (!opts.insecure) {
    throw new ConfigError(
      'no transport security chosen: give --tls-cert, --tls-key and --tls-ca, or --insecure (loopback only)',
    );
  } else if (!isLoopback(listen.host)) {
    throw new ConfigError(
      `--insecure is refused on ${listen.host}: plaintext gRPC is allowed only on a loopback address (127.0.0.1, ::1)`,
    );
  }

  const logLevel = str(opts, 'logLevel') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`logLevel must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }
  const instanceId = str(opts, 'instanceId') ?? 'standalone';
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(instanceId)) {
    throw new ConfigError(`instanceId may hold only letters, digits, ".", "_" and "-", got "${instanceId.slice(0, 80)}"`);
  }
  let backup: CompiledBackupSettings;
  try {
    backup = compileBackupSettings(opts.backup, baseDir, str(opts, 'backupDir'), str(opts, 'backupKeyFile'));
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }

  // coffer-control addition: the conductor. Reports are authenticated by the
  // instance's certificate, so a conductor needs mutual TLS.
  let control: CompiledAgentConfig['control'] = null;
  const controlEndpoint = str(opts, 'controlEndpoint');
  if (controlEndpoint !== undefined) {
    if (!tls) throw new ConfigError('controlEndpoint needs mutual TLS (--tls-cert, --tls-key, --tls-ca): the conductor identifies agents by certificate');
    const hb = opts.heartbeatSeconds ?? 10;
    if (typeof hb !== 'number' || !(hb > 0) || hb > 3600) throw new ConfigError(`heartbeatSeconds must be a number of seconds in (0, 3600], got "${hb}"`);
    const ep = parseHostPort(controlEndpoint, 'controlEndpoint');
    control = Object.freeze({ host: ep.host, port: ep.port, heartbeatMs: Math.round(hb * 1000) });
  }
  const logFileRaw = str(opts, 'logFile');

  return Object.freeze({
    instanceId,
    listenHost: listen.host,
    listenPort: listen.port,
    datastore,
    datastoreVersion,
    baseDir,
    datastorePort,
    datastoreBind,
    tls,
    logLevel,
    backup,
    control,
    logFile: logFileRaw === undefined ? null : path.resolve(logFileRaw),
  });
}
