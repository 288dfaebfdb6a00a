// How an agent is told what it is: one JSON file, the agent's config file.
// Whatever launches an agent writes it (the control's local compute driver
// today, a config drive for a VM later) with writeBootConfig, and the agent
// reads it with readAgentConfigFile, so the writer and the reader share
// these types and cannot drift. A person running an agent by hand writes
// the same format with fewer keys (flags give the rest); the version may be
// left out there and means the current one.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

export const BOOT_CONFIG_VERSION = 1;

/** The config file's "backup" section (the agent checks the stores' settings). */
export interface BootBackupSection {
  /** 32-byte wrapping key file, raw or as 64 hex characters. Default <baseDir>/agent/backup.key, created 0600 on first use. */
  keyFile?: string;
  /** Storage used when a request names none. Default "local". */
  defaultStorage?: string;
  /** Per storage strategy (local, swift, s3): its settings, credentials included. */
  storages?: Readonly<Record<string, unknown>>;
}

/** Every key an agent's config file may hold, each optional (the agent's flags set the same). */
export interface AgentConfigFile {
  /** The format's version; left out, the current one. */
  version?: number;
  /** This instance's id (the control's; "standalone" when run by hand). */
  instanceId?: string;
  /** gRPC listen address, HOST:PORT. Default 127.0.0.1:8790. */
  listen?: string;
  /**
   * Where Prometheus metrics are served (GET /metrics, plain HTTP),
   * HOST:PORT. Left out: none are, and the metrics code is not loaded.
   */
  metricsListen?: string;
  /** Datastore manager name: mariadb, mysql, postgresql, redis. */
  datastore?: string;
  datastoreVersion?: string;
  /** Data, config, run files and the agent's own state live under it (see base-dir.ts). */
  baseDir?: string;
  /** TCP port of the datastore. Default: the datastore's usual port. */
  datastorePort?: number;
  /** Address the datastore binds. Default 127.0.0.1. */
  datastoreBind?: string;
  /** Plaintext gRPC; refused unless the listen address is loopback. */
  insecure?: boolean;
  /** The agent's identity (mutual TLS towards the control): root-only files, never given to the datastore. */
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  /** The datastore's own serving certificate and key for its clients' TLS. Left out: the datastore offers no TLS. */
  datastoreTlsCert?: string;
  datastoreTlsKey?: string;
  /** The datastore's certificate towards its peers (clientAuth only): Redis Cluster's bus. Left out: none. */
  datastoreTlsPeerCert?: string;
  datastoreTlsPeerKey?: string;
  /**
   * The CA that signs every instance's datastore certificate: a replica
   * verifies its source's datastore with it. Left out: tlsCa.
   */
  datastoreTlsCa?: string;
  logLevel?: string;
  backup?: BootBackupSection;
  /** Shortcut: local backup directory. */
  backupDir?: string;
  /** Shortcut: the wrapping key file. */
  backupKeyFile?: string;
  /** The control's conductor, HOST:PORT. Heartbeats are sent only when set; needs mutual TLS. */
  controlEndpoint?: string;
  /** Seconds between heartbeats. Default 10. */
  heartbeatSeconds?: number;
  /** Write logs to this file instead of stdout (an agent that outlives whoever started it). */
  logFile?: string;
  /**
   * The instance's own data disk (Trove's device_path and mount_point): at
   * Prepare the agent makes a filesystem on the device when it has none and
   * mounts it at mountPoint, which holds baseDir's data; ResizeFilesystem
   * grows that filesystem online. Left out: data lives on baseDir's disk.
   */
  dataVolume?: { devicePath: string; mountPoint: string };
}

/**
 * What a launcher writes for an agent the control manages: every key it
 * must set, with the version. Paths are as the agent sees them.
 */
export interface BootConfig extends AgentConfigFile {
  readonly version: typeof BOOT_CONFIG_VERSION;
  readonly instanceId: string;
  readonly listen: string;
  readonly datastore: string;
  readonly datastoreVersion: string;
  readonly baseDir: string;
  readonly datastorePort: number;
  readonly datastoreBind: string;
  readonly tlsCert: string;
  readonly tlsKey: string;
  readonly tlsCa: string;
  readonly datastoreTlsCert: string;
  readonly datastoreTlsKey: string;
  readonly datastoreTlsCa: string;
  readonly logLevel: string;
  readonly logFile: string;
  readonly controlEndpoint: string;
  readonly heartbeatSeconds: number;
  readonly backupKeyFile: string;
  readonly backupDir: string;
  readonly backup: Readonly<Pick<BootBackupSection, 'defaultStorage' | 'storages'>>;
}

// Every key of AgentConfigFile, for refusing a misspelt one by name; the
// type makes a key added to the interface and not here a compile error.
const KEYS: { readonly [K in keyof Required<AgentConfigFile>]: true } = {
  version: true, instanceId: true, listen: true, metricsListen: true, datastore: true, datastoreVersion: true, baseDir: true, datastorePort: true,
  datastoreBind: true, insecure: true, tlsCert: true, tlsKey: true, tlsCa: true, datastoreTlsCert: true, datastoreTlsKey: true, datastoreTlsPeerCert: true, datastoreTlsPeerKey: true, datastoreTlsCa: true,
  logLevel: true, backup: true, backupDir: true, backupKeyFile: true, controlEndpoint: true, heartbeatSeconds: true, logFile: true, dataVolume: true,
};
export const AGENT_CONFIG_KEYS: ReadonlySet<string> = new Set(Object.keys(KEYS));

export class BootConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BootConfigError';
  }
}

/**
 * Writes the file atomically (an agent never reads half a config), 0600:
 * it may hold storage credentials.
 */
export function writeBootConfig(file: string, config: BootConfig): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

/** Parses a config file's text; `file` names it in errors. Its keys are checked later, with the flags. */
export function parseAgentConfigFile(text: string, file: string): AgentConfigFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new BootConfigError(`config file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new BootConfigError(`config file ${file} must hold a JSON object`);
  }
  const version = (parsed as AgentConfigFile).version;
  if (version !== undefined && version !== BOOT_CONFIG_VERSION) {
    throw new BootConfigError(
      `config file ${file} has version ${JSON.stringify(version)}; this agent reads version ${BOOT_CONFIG_VERSION} only (was it written by a newer control?)`,
    );
  }
  return parsed as AgentConfigFile;
}

/** Reads the file. A missing default file is fine (no settings); a missing named file is not. */
export function readAgentConfigFile(file: string, explicit: boolean): AgentConfigFile {
  if (!existsSync(file)) {
    if (explicit) throw new BootConfigError(`config file ${file} does not exist`);
    return {};
  }
  return parseAgentConfigFile(readFileSync(file, 'utf8'), file);
}
