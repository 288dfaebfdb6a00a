// Agent configuration: a JSON file (the boot config, lib/boot-config.ts)
// plus command-line flags, compiled once at start into a frozen object.
// Nothing reads configuration after start-up.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { isIP } from 'node:net';
import { isLoopback, parseHostPort as parseHostPortAs } from '../lib/host-port.js';
import { socketRoomProblem } from '../lib/base-dir.js';
import { AGENT_CONFIG_KEYS, BOOT_CONFIG_VERSION, BootConfigError, readAgentConfigFile, type AgentConfigFile } from '../lib/boot-config.js';
import { compileBackupSettings, type CompiledBackupSettings } from './backup/backup-settings.js';
import { certificateIdentityProblem } from './certificate-identity.js';

/** What the JSON file and the flags may say: the boot config's keys, each optional. */
export type AgentOptions = AgentConfigFile;

export interface CompiledAgentConfig {
  readonly instanceId: string;
  readonly listenHost: string;
  readonly listenPort: number;
  readonly datastore: string;
  readonly datastoreVersion: string;
  readonly baseDir: string;
  readonly datastorePort: number;
  readonly datastoreBind: string;
  /** The agent's identity: its gRPC server and its calls to the conductor. */
  readonly tls: Readonly<{ cert: string; key: string; ca: string }> | null;
  /** The datastore's own serving pair, null when it offers no TLS. Never the identity's. */
  readonly datastoreTls: Readonly<{ cert: string; key: string }> | null;
  /** The datastore's pair towards its peers (clientAuth: Redis Cluster's bus), null when none was given. */
  readonly datastoreTlsPeer: Readonly<{ cert: string; key: string }> | null;
  /**
   * The CA other instances' datastore certificates are verified with (a
   * replica checks its source): datastoreTlsCa, else the identity's CA;
   * null without TLS.
   */
  readonly datastoreCa: string | null;
  readonly logLevel: string;
  readonly backup: CompiledBackupSettings;
  /** The conductor; null when none is configured. */
  readonly control: Readonly<{ host: string; port: number; heartbeatMs: number }> | null;
  readonly logFile: string | null;
  /**
   * The instance's own data disk (lifecycle/data-volume.ts), null when the
   * data lives on the base dir's disk. Its mount point holds the datastore's
   * data directory (it is the base dir, a parent of it, or the data dir).
   */
  readonly dataVolume: Readonly<{ devicePath: string; mountPoint: string }> | null;
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
  try {
    return readAgentConfigFile(file, explicit);
  } catch (err) {
    if (err instanceof BootConfigError) throw new ConfigError(err.message);
    throw err;
  }
}

export { isLoopback };

/** Parses HOST:PORT (IPv6 as [::1]:PORT). */
export function parseHostPort(value: string, what: string): { host: string; port: number } {
  return parseHostPortAs(value, what, (message) => new ConfigError(message));
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
    if (!AGENT_CONFIG_KEYS.has(key)) {
      throw new ConfigError(`unknown config key "${key}"; known keys: ${[...AGENT_CONFIG_KEYS].join(', ')}`);
    }
  }
  if (fileOpts.version !== undefined && fileOpts.version !== BOOT_CONFIG_VERSION) {
    throw new ConfigError(`config version ${JSON.stringify(fileOpts.version)} is not ${BOOT_CONFIG_VERSION}, the one this agent reads`);
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

  const datastoreTls = compileDatastoreTls(str(opts, 'datastoreTlsCert'), str(opts, 'datastoreTlsKey'), tls);
  const peerCert = str(opts, 'datastoreTlsPeerCert');
  const peerKey = str(opts, 'datastoreTlsPeerKey');
  const datastoreTlsPeer = peerCert === undefined && peerKey === undefined ? null : compileDatastoreTls(peerCert, peerKey, tls);
  const datastoreTlsCa = str(opts, 'datastoreTlsCa');
  if (datastoreTlsCa !== undefined && !existsSync(datastoreTlsCa)) throw new ConfigError(`datastore TLS CA file ${datastoreTlsCa} does not exist`);

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

  // Reports to the conductor are authenticated by the instance's
  // certificate, so a conductor needs mutual TLS.
  let control: CompiledAgentConfig['control'] = null;
  const controlEndpoint = str(opts, 'controlEndpoint');
  if (controlEndpoint !== undefined) {
    if (!tls) throw new ConfigError('controlEndpoint needs mutual TLS (--tls-cert, --tls-key, --tls-ca): the conductor identifies agents by certificate');
    const hb = opts.heartbeatSeconds ?? 10;
    if (typeof hb !== 'number' || !(hb > 0) || hb > 3600) throw new ConfigError(`heartbeatSeconds must be a number of seconds in (0, 3600], got "${hb}"`);
    // The conductor and the control know this agent by its certificate.
    const wrongIdentity = certificateIdentityProblem(tls.cert, instanceId);
    if (wrongIdentity) throw new ConfigError(wrongIdentity);
    const ep = parseHostPort(controlEndpoint, 'controlEndpoint');
    control = Object.freeze({ host: ep.host, port: ep.port, heartbeatMs: Math.round(hb * 1000) });
  }
  const logFileRaw = str(opts, 'logFile');
  const dataVolume = compileDataVolume(opts.dataVolume, baseDir);

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
    datastoreTls,
    datastoreTlsPeer,
    datastoreCa: datastoreTlsCa ?? tls?.ca ?? null,
    logLevel,
    backup,
    control,
    logFile: logFileRaw === undefined ? null : path.resolve(logFileRaw),
    dataVolume,
  });
}

/** dataVolume: two absolute paths, the mount point holding the datastore's data directory (<baseDir>/data). */
function compileDataVolume(v: unknown, baseDir: string): CompiledAgentConfig['dataVolume'] {
  if (v === undefined) return null;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError('dataVolume must be an object {"devicePath": ..., "mountPoint": ...}');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'devicePath' && k !== 'mountPoint') throw new ConfigError(`unknown dataVolume key "${k}"; known keys: devicePath, mountPoint`);
  for (const k of ['devicePath', 'mountPoint'] as const) {
    const p = o[k];
    if (typeof p !== 'string' || !path.isAbsolute(p)) throw new ConfigError(`dataVolume.${k} must be an absolute path, got ${JSON.stringify(p)}`);
  }
  const mountPoint = path.resolve(o.mountPoint as string);
  const dataDir = path.join(baseDir, 'data');
  const rel = path.relative(mountPoint, dataDir);
  if (rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new ConfigError(`dataVolume.mountPoint ${mountPoint} must hold the datastore's data directory ${dataDir}: make it the base dir, a parent of it, or that directory`);
  }
  return Object.freeze({ devicePath: o.devicePath as string, mountPoint });
}

/**
 * The datastore's serving pair: both files or neither. Its key is copied
 * where the datastore's OS user (and so a tenant with superuser rights) can
 * read it, so it must not be the agent's identity key.
 */
function compileDatastoreTls(cert: string | undefined, key: string | undefined, identity: CompiledAgentConfig['tls']): CompiledAgentConfig['datastoreTls'] {
  if (cert === undefined && key === undefined) return null;
  if (cert === undefined || key === undefined) {
    throw new ConfigError('datastore TLS needs both --datastore-tls-cert and --datastore-tls-key');
  }
  for (const [k, f] of [['cert', cert], ['key', key]] as const) {
    if (!existsSync(f)) throw new ConfigError(`datastore TLS ${k} file ${f} does not exist`);
  }
  if (identity && readFileSync(key).equals(readFileSync(identity.key))) {
    throw new ConfigError('--datastore-tls-key is the agent\'s own --tls-key: the datastore needs a serving key of its own, which its OS user may read');
  }
  return Object.freeze({ cert, key });
}
