// coffer-control's configuration, compiled once from the command line into
// a frozen object. Nothing reads configuration after start-up.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createSecureContext } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { isLoopback, parseHostPort as parseHostPortAs, type HostPort } from '../lib/host-port.js';
import { socketRoomProblem } from '../lib/base-dir.js';
import { LocalDriver } from './compute/local.js';
import { BackupStorageError, loadBackupStorage, type DeploymentStorage } from './backup-storage.js';

export interface ControlOptions {
  dataDir?: string;
  /** The public gRPC API, HOST:PORT. Default 127.0.0.1:8780. */
  grpc?: string;
  /** The REST bridge, HOST:PORT. Default 127.0.0.1:8779. */
  rest?: string;
  /** The REST bridge's certificate (PEM, chain allowed) and key; default: one the API CA issues. */
  restTlsCert?: string;
  restTlsKey?: string;
  /** The gRPC API's certificate and key; default: one the API CA issues. */
  grpcTlsCert?: string;
  grpcTlsKey?: string;
  /** Serve both public listeners without TLS: allowed only when both bind loopback (the test suite). */
  plaintextLoopback?: boolean;
  /** More DNS names or IP addresses for the issued certificate (clients reaching the control through NAT or an alias). */
  apiTlsName?: string[];
  /** The conductor (agents report here over mutual TLS), HOST:PORT. Default 127.0.0.1:8781. */
  conductor?: string;
  /** Where /metrics is served, HOST:PORT; false: not at all. Default 127.0.0.1:9180. */
  metrics?: string | false;
  logLevel?: string;
  heartbeatSeconds?: number;
  /** Heartbeats older than this mark the agent unreachable. Default 3 heartbeats. */
  heartbeatExpirySeconds?: number;
  /** Deadline of a task. Default 900. */
  taskDeadlineSeconds?: number;
  /** Test seam: pause before every step, so a test can kill the control at a chosen step. */
  stepDelayMs?: number;
  /**
   * Test seam: how long a day is to the archive retention pass (retention
   * is set in days), which runs every 24th of it (hourly, by default), so a
   * test sees days pass in seconds.
   */
  archiveRetentionDayMs?: number;
  agentBin?: string;
  /** A 0600 JSON file naming Swift or S3 for backups (see backup-storage.ts). Default: local, under the data dir. */
  backupStorage?: string;
  /** Automatic failover for new replication sets that do not say. Default false (opt-in). */
  autoFailover?: boolean;
  /**
   * How long a source may take writes after its last heartbeat the control
   * confirmed (it fences itself then; it reports three times per lease).
   * Automatic failover judges a source gone after this, not after the
   * heartbeat expiry. Default 12, at most the heartbeat expiry.
   */
  sourceLeaseSeconds?: number;
  /** How long a source whose lease ran out must also fail Ping before the control ejects it. Default 5. */
  failoverGraceSeconds?: number;
  /**
   * Configuration overrides every new cluster member's Prepare gets, as
   * KEY=VALUE (tests give members small buffers: several share one host).
   */
  clusterMemberOverride?: string[];
  /** The compute driver: local (default) or qemu. */
  compute?: string;
  /** The qemu driver's base image (a qcow2 from make image). */
  image?: string;
  /** How long a create waits for a new VM's agent to answer. Default 600 (TCG boots are slow). */
  bootTimeoutSeconds?: number;
}

/** Which compute driver runs instances, with its settings. */
export type ComputeConfig =
  | { readonly driver: 'local' }
  | { readonly driver: 'qemu'; readonly image: string; readonly bootTimeoutMs: number };

export type { HostPort };

/**
 * How a public listener (the REST bridge, the gRPC API) serves: plaintext
 * (only on loopback), TLS with the pair the API CA issues for the control's
 * names, or TLS with the operator's own pair.
 */
export type ListenerTls =
  | { readonly kind: 'plaintext' }
  | { readonly kind: 'issued' }
  | { readonly kind: 'given'; readonly cert: string; readonly key: string };

export interface CompiledControlConfig {
  readonly dataDir: string;
  readonly grpc: HostPort;
  readonly rest: HostPort;
  readonly restTls: ListenerTls;
  readonly grpcTls: ListenerTls;
  /** --api-tls-name: names the issued certificate carries besides the control's own. */
  readonly apiTlsNames: readonly string[];
  readonly conductor: HostPort;
  /** Where /metrics is served; null: metrics are off (--no-metrics). */
  readonly metrics: HostPort | null;
  readonly logLevel: string;
  readonly heartbeatMs: number;
  readonly heartbeatExpiryMs: number;
  readonly taskDeadlineMs: number;
  readonly stepDelayMs: number;
  /** A day to the archive retention pass (86 400 000 but in tests); it runs every 24th of it. */
  readonly archiveRetentionDayMs: number;
  readonly agentBin: string;
  readonly backupStorage: DeploymentStorage;
  readonly autoFailoverDefault: boolean;
  readonly failoverGraceMs: number;
  /** The lease the conductor grants a set's source (≤ heartbeatExpiryMs). */
  readonly sourceLeaseMs: number;
  /** Overrides every new cluster member's Prepare gets (--cluster-member-override). */
  readonly clusterMemberOverrides: Readonly<Record<string, string>>;
  readonly compute: ComputeConfig;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
/** Prometheus metrics: on, on loopback, unless turned off; a port of their own. */
export const DEFAULT_METRICS = '127.0.0.1:9180';

export function parseHostPort(value: string, what: string): HostPort {
  return parseHostPortAs(value, what, (message) => new ConfigError(message));
}

function retentionDay(v: number | undefined): number {
  if (v === undefined) return 86_400_000;
  if (!Number.isInteger(v) || v < 1000) throw new ConfigError(`--archive-retention-day-ms must be a whole number of milliseconds, at least 1000, got "${v}"`);
  return v;
}

function seconds(v: number | undefined, def: number, what: string): number {
  const n = v ?? def;
  if (!Number.isFinite(n) || n <= 0) throw new ConfigError(`${what} must be a positive number of seconds, got "${v}"`);
  return Math.round(n * 1000);
}

export function compileControlConfig(o: ControlOptions, defaultAgentBin: string): CompiledControlConfig {
  if (!o.dataDir) throw new ConfigError('--data-dir is required: the directory for the database, the CA and local instances');
  // The local driver's instances live under the data dir, and their
  // datastores' unix sockets under those: a long data dir makes every
  // instance fail at start, so it is refused here, by name.
  const dataDir = path.resolve(o.dataDir);
  const tooLong = socketRoomProblem(LocalDriver.baseDir(dataDir, '00000000-0000-0000-0000-000000000000'));
  if (tooLong) throw new ConfigError(`--data-dir ${dataDir} is too long for the instances under it: ${tooLong}`);
  const grpc = parseHostPort(o.grpc ?? '127.0.0.1:8780', '--grpc');
  const rest = parseHostPort(o.rest ?? '127.0.0.1:8779', '--rest');
  const restTls = listenerTls(o, 'rest', rest);
  const grpcTls = listenerTls(o, 'grpc', grpc);
  const logLevel = o.logLevel ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  const heartbeatMs = seconds(o.heartbeatSeconds, 10, '--heartbeat-seconds');
  const heartbeatExpiryMs = o.heartbeatExpirySeconds !== undefined ? seconds(o.heartbeatExpirySeconds, 0, '--heartbeat-expiry-seconds') : heartbeatMs * 3;
  return Object.freeze({
    dataDir,
    grpc,
    rest,
    restTls,
    grpcTls,
    apiTlsNames: Object.freeze(apiTlsNamesOf(o, restTls, grpcTls)),
    conductor: parseHostPort(o.conductor ?? '127.0.0.1:8781', '--conductor'),
    metrics: o.metrics === false ? null : parseHostPort(o.metrics ?? DEFAULT_METRICS, '--metrics'),
    logLevel,
    heartbeatMs,
    heartbeatExpiryMs,
    taskDeadlineMs: seconds(o.taskDeadlineSeconds, 900, '--task-deadline-seconds'),
    stepDelayMs: o.stepDelayMs ?? 0,
    archiveRetentionDayMs: retentionDay(o.archiveRetentionDayMs),
    agentBin: o.agentBin ?? defaultAgentBin,
    backupStorage: storageOf(o.backupStorage),
    autoFailoverDefault: o.autoFailover === true,
    failoverGraceMs: seconds(o.failoverGraceSeconds, 5, '--failover-grace-seconds'),
    sourceLeaseMs: Math.min(seconds(o.sourceLeaseSeconds, 12, '--source-lease-seconds'), heartbeatExpiryMs),
    clusterMemberOverrides: Object.freeze(overridesOf(o.clusterMemberOverride ?? [])),
    compute: computeOf(o, parseHostPort(o.conductor ?? '127.0.0.1:8781', '--conductor')),
  });
}

/**
 * The public listeners authenticate by bearer token, which must not cross a
 * network in clear: they serve TLS unless --plaintext-loopback says
 * otherwise, and that is refused for any address but loopback.
 */
function listenerTls(o: ControlOptions, which: 'rest' | 'grpc', bind: HostPort): ListenerTls {
  const certFlag = `--${which}-tls-cert`;
  const keyFlag = `--${which}-tls-key`;
  const cert = which === 'rest' ? o.restTlsCert : o.grpcTlsCert;
  const key = which === 'rest' ? o.restTlsKey : o.grpcTlsKey;
  if (o.plaintextLoopback) {
    if (cert !== undefined || key !== undefined) throw new ConfigError(`--plaintext-loopback serves no TLS: it cannot be given with ${cert !== undefined ? certFlag : keyFlag}`);
    if (!isLoopback(bind.host)) {
      throw new ConfigError(
        `--${which} ${bind.host} is refused with --plaintext-loopback: API tokens would cross the network in clear. ` +
          `Drop --plaintext-loopback to serve TLS with a certificate the deployment's API CA issues (its CA file is printed at start, for clients), ` +
          `or give your own with ${certFlag} FILE ${keyFlag} FILE`,
      );
    }
    return Object.freeze({ kind: 'plaintext' });
  }
  if (cert === undefined && key === undefined) return Object.freeze({ kind: 'issued' });
  if (cert === undefined || key === undefined) throw new ConfigError(`${cert === undefined ? certFlag : keyFlag} is missing: ${certFlag} and ${keyFlag} go together (a PEM certificate, chain allowed, and its PEM private key)`);
  const certPath = path.resolve(cert);
  const keyPath = path.resolve(key);
  const read = (file: string, flag: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new ConfigError(`${flag} ${file} cannot be read: ${(err as Error).message}`);
    }
  };
  const certPem = read(certPath, certFlag);
  const keyPem = read(keyPath, keyFlag);
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(certPem);
  } catch (err) {
    throw new ConfigError(`${certFlag} ${certPath} is not a PEM certificate: ${(err as Error).message}`);
  }
  try {
    createSecureContext({ cert: certPem, key: keyPem });
  } catch (err) {
    throw new ConfigError(`${certFlag} ${certPath} and ${keyFlag} ${keyPath} are not a key pair TLS can serve: ${(err as Error).message}`);
  }
  if (Date.parse(leaf.validTo) < Date.now()) throw new ConfigError(`${certFlag} ${certPath} expired on ${leaf.validTo}: clients would refuse it`);
  return Object.freeze({ kind: 'given', cert: certPath, key: keyPath });
}

const DNS_NAME = /^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/;

function apiTlsNamesOf(o: ControlOptions, rest: ListenerTls, grpc: ListenerTls): string[] {
  const names = o.apiTlsName ?? [];
  if (names.length > 0 && rest.kind !== 'issued' && grpc.kind !== 'issued') {
    throw new ConfigError('--api-tls-name names the certificate the API CA issues, which no listener serves here (both have their own pair, or --plaintext-loopback)');
  }
  for (const n of names) {
    if (!isIP(n) && !DNS_NAME.test(n)) throw new ConfigError(`--api-tls-name "${n}" is neither a DNS name (letters, digits, "." and "-", at most 63) nor an IP address`);
  }
  return names;
}

function computeOf(o: ControlOptions, conductor: HostPort): ComputeConfig {
  const driver = o.compute ?? 'local';
  if (driver === 'local') {
    if (o.image !== undefined) throw new ConfigError('--image is for --compute qemu; the local driver runs agents as processes');
    return Object.freeze({ driver });
  }
  if (driver !== 'qemu') throw new ConfigError(`--compute must be local or qemu, got "${driver}"`);
  if (!o.image) throw new ConfigError('--compute qemu needs --image: the qcow2 to boot instances from (make image DATASTORE=mariadb builds one)');
  // Running VMs reach the conductor through a guest forward fixed when
  // they booted: the port must be the same at every start of the control.
  if (conductor.port === 0) throw new ConfigError('--compute qemu needs a fixed --conductor port (not 0): running VMs keep forwarding to it across control restarts');
  if (!isLoopback(conductor.host)) throw new ConfigError(`--compute qemu forwards guests to the conductor on the host's loopback: --conductor must be a loopback address, got ${conductor.host}`);
  return Object.freeze({ driver, image: path.resolve(o.image), bootTimeoutMs: seconds(o.bootTimeoutSeconds, 600, '--boot-timeout-seconds') });
}

function overridesOf(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const m = /^([A-Za-z0-9_.-]+)=(.*)$/.exec(p);
    if (!m) throw new ConfigError(`--cluster-member-override must be KEY=VALUE, got "${p}"`);
    out[m[1]!] = m[2]!;
  }
  return out;
}

function storageOf(file: string | undefined): DeploymentStorage {
  try {
    return loadBackupStorage(file);
  } catch (err) {
    if (err instanceof BackupStorageError) throw new ConfigError(err.message);
    throw err;
  }
}
