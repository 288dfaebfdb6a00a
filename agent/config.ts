// Agent configuration: a JSON file plus command-line flags, compiled once at
// start into a frozen object. Nothing reads configuration after start-up.
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { isIP } from 'node:net';

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
  'datastoreBind', 'insecure', 'tlsCert', 'tlsKey', 'tlsCa', 'logLevel',
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
  });
}
