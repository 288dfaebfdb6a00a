// Test harness for coffer-control: runs the real control (the built
// launcher) as a child process on a temporary data dir, with API clients
// that send a token, and in teardown stops it and every agent it started
// (agents outlive the control by design, so they are found through /proc).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { credentials, Metadata, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { InstanceServiceClient } from '../../proto/gen/coffer/control/v1/instances.js';
import { AccountServiceClient } from '../../proto/gen/coffer/control/v1/accounts.js';
import { BackupServiceClient } from '../../proto/gen/coffer/control/v1/backups.js';
import { CatalogServiceClient } from '../../proto/gen/coffer/control/v1/catalog.js';
import { TaskServiceClient } from '../../proto/gen/coffer/control/v1/tasks.js';
import { agentEnv, alive, REPO, tempBase, withoutTapLoaders } from './agent.js';
import { freePort } from './ports.js';
import { stopAtExit } from './exit-net.js';
import { trustDatastoreCa } from './datastore-trust.js';

export const CONTROL_BIN = path.join(REPO, 'bin', 'coffer-control');

export interface ControlClients {
  instances: InstanceServiceClient;
  accounts: AccountServiceClient;
  backups: BackupServiceClient;
  catalog: CatalogServiceClient;
  tasks: TaskServiceClient;
  close(): void;
}

/** Clients of the gRPC API: plaintext, or TLS verified with `caFile` (the control's API CA). */
export function controlClients(address: string, caFile: string | null = null): ControlClients {
  const creds = caFile ? credentials.createSsl(readFileSync(caFile)) : credentials.createInsecure();
  const c = {
    instances: new InstanceServiceClient(address, creds),
    accounts: new AccountServiceClient(address, creds),
    backups: new BackupServiceClient(address, creds),
    catalog: new CatalogServiceClient(address, creds),
    tasks: new TaskServiceClient(address, creds),
  };
  return { ...c, close: () => Object.values(c).forEach((x) => x.close()) };
}

export function auth(token: string): Metadata {
  const md = new Metadata();
  if (token) md.set('authorization', `Bearer ${token}`);
  return md;
}

/** A unary call with a token, as a promise. */
export function ccall<Res>(client: object, method: string, req: object, token: string): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = (client as Record<string, Function>)[method]!.bind(client);
    fn(req, auth(token), (err: ServiceError | null, res: Res) => (err ? reject(err) : resolve(res)));
  });
}

export function cstream<T>(client: object, method: string, req: object, token: string): ClientReadableStream<T> {
  return (client as Record<string, Function>)[method]!.call(client, req, auth(token)) as ClientReadableStream<T>;
}

export interface ControlProcess {
  proc: ChildProcess;
  exited: Promise<number | null>;
  logs: string[];
  /** Where this run serves /metrics (a free port each start); null with --no-metrics. */
  metricsPort: number | null;
}

export interface ControlHarness {
  readonly dataDir: string;
  /** The CA that signs the instances' datastore certificates (a user verifies their TLS with it). */
  readonly datastoreCa: string;
  readonly grpcPort: number;
  readonly conductorPort: number;
  /** The REST bridge (Trove v1.0) port. */
  readonly restPort: number;
  readonly address: string;
  /** With opts.tls: the API CA's certificate clients verify the public listeners with (DATA-DIR/api-ca.crt); null: plaintext. */
  readonly caFile: string | null;
  current: ControlProcess | null;
  clients: ControlClients;
  /** The command line start() runs; a test may change it between a kill and a start. */
  args: string[];
  /** Starts (or restarts) the control on the same data dir and ports. */
  start(): Promise<void>;
  /** kill -9 (or another signal) and wait for exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  token(project: string, admin?: boolean): string;
}

export interface HarnessOptions {
  stepDelayMs?: number;
  heartbeatSeconds?: number;
  heartbeatExpirySeconds?: number;
  taskDeadlineSeconds?: number;
  /** --backup-storage: a 0600 JSON file naming Swift or S3. */
  backupStorage?: string;
  /** More coffer-control serve flags (e.g. --failover-grace-seconds). */
  extraArgs?: string[];
  /**
   * Serve the REST bridge and the gRPC API over TLS, as coffer-control does
   * by default. Without it the harness passes --plaintext-loopback: the
   * suite talks plain HTTP and gRPC to loopback (docs/tls.md).
   */
  tls?: boolean;
}

/**
 * Starts a control on free ports. A port picked free can be taken by another
 * test's process before the control binds it: then, and only then, start
 * again on new ports.
 */
export async function startControl(t: { teardown(fn: () => unknown): void }, opts: HarnessOptions = {}): Promise<ControlHarness> {
  for (let attempt = 1; ; attempt++) {
    const deferred: Array<() => unknown> = [];
    try {
      const h = await startControlOnce({ teardown: (fn) => deferred.push(fn) }, opts);
      for (const fn of deferred) t.teardown(fn);
      return h;
    } catch (err) {
      for (const fn of deferred.reverse()) await fn();
      if (attempt >= 3 || !String((err as Error).message).includes('EADDRINUSE')) throw err;
    }
  }
}

async function startControlOnce(t: { teardown(fn: () => unknown): void }, opts: HarnessOptions): Promise<ControlHarness> {
  // Short: the instances' unix sockets live under it (see agent/layout.ts).
  const root = tempBase('coffer-ctl-');
  const dataDir = path.join(root, 'data');
  const grpcPort = await freePort();
  const conductorPort = await freePort();
  const restPort = await freePort();
  const address = `127.0.0.1:${grpcPort}`;
  const args = [
    CONTROL_BIN, 'serve', '--data-dir', dataDir, '--grpc', address, '--conductor', `127.0.0.1:${conductorPort}`, '--rest', `127.0.0.1:${restPort}`,
    '--heartbeat-seconds', String(opts.heartbeatSeconds ?? 1),
    ...(opts.tls ? [] : ['--plaintext-loopback']),
    // Not the default 9180: tests run side by side. extraArgs may say --no-metrics.
    '--metrics', '127.0.0.1:0',
    ...(opts.heartbeatExpirySeconds ? ['--heartbeat-expiry-seconds', String(opts.heartbeatExpirySeconds)] : []),
    ...(opts.taskDeadlineSeconds ? ['--task-deadline-seconds', String(opts.taskDeadlineSeconds)] : []),
    ...(opts.stepDelayMs ? ['--step-delay-ms', String(opts.stepDelayMs)] : []),
    ...(opts.backupStorage ? ['--backup-storage', opts.backupStorage] : []),
    ...(opts.extraArgs ?? []),
  ];
  const h: ControlHarness = {
    dataDir,
    datastoreCa: path.join(dataDir, 'ca', 'instances-ca.crt'),
    grpcPort,
    conductorPort,
    restPort,
    address,
    caFile: opts.tls ? path.join(dataDir, 'api-ca.crt') : null,
    current: null,
    clients: controlClients(address),
    args,
    async start() {
      const proc = spawn(...withoutTapLoaders([process.execPath, ...this.args]), { stdio: ['ignore', 'pipe', 'pipe'], env: agentEnv() });
      const logs: string[] = [];
      const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
      proc.stderr!.on('data', (d: Buffer) => logs.push(d.toString()));
      const current: ControlProcess = { proc, exited, logs, metricsPort: null };
      this.current = current;
      await new Promise<void>((resolve, reject) => {
        createInterface({ input: proc.stdout! }).on('line', (line) => {
          logs.push(line);
          if (line.includes('"msg":"listening"')) {
            current.metricsPort = (JSON.parse(line) as { metrics?: number | null }).metrics ?? null;
            resolve();
          }
        });
        void exited.then((code) => reject(new Error(`coffer-control exited with ${code} before listening:\n${logs.join('\n')}`)));
      });
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      const cur = this.current;
      if (!cur) return;
      if (cur.proc.exitCode === null && cur.proc.signalCode === null) cur.proc.kill(signal);
      await cur.exited;
      this.current = null;
    },
    token(project: string, admin = false) {
      const r = spawnSync(...withoutTapLoaders([process.execPath, CONTROL_BIN, 'token', 'create', '--data-dir', dataDir, '--project', project, ...(admin ? ['--admin'] : [])]), {
        env: agentEnv(),
        encoding: 'utf8',
      });
      if (r.status !== 0) throw new Error(`token create failed: ${r.stderr}`);
      return r.stdout.trim();
    },
  };
  const forget = stopAtExit(() => {
    const cur = h.current?.proc;
    if (cur && cur.exitCode === null && cur.signalCode === null) cur.kill('SIGKILL');
    stopAgentsUnder(dataDir);
    stopVmsUnder(dataDir);
  });
  t.teardown(async () => {
    h.clients.close();
    await h.kill('SIGKILL');
    stopAgentsUnder(dataDir);
    stopVmsUnder(dataDir);
    forget();
    rmSync(root, { recursive: true, force: true });
  });
  await h.start();
  // The API CA exists once the control has started.
  if (h.caFile) {
    h.clients.close();
    h.clients = controlClients(address, h.caFile);
  }
  trustDatastoreCa(h.datastoreCa);
  return h;
}

/** SIGKILLs every agent (and its datastore) whose config lives under dataDir. */
export function stopAgentsUnder(dataDir: string): void {
  const instancesDir = path.join(dataDir, 'instances');
  for (const pid of agentPids(dataDir)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  if (!existsSync(instancesDir)) return;
  for (const id of readdirSync(instancesDir)) {
    const f = path.join(instancesDir, id, 'base', 'agent', 'datastore.pid');
    try {
      const { pid } = JSON.parse(readFileSync(f, 'utf8')) as { pid: number };
      if (alive(pid)) process.kill(-pid, 'SIGKILL');
    } catch {
      // none
    }
  }
}

/** SIGKILLs every QEMU the qemu driver started under dataDir (found by its pid file in its argv). */
export function stopVmsUnder(dataDir: string): void {
  const prefix = path.join(dataDir, 'vms') + path.sep;
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      if (argv.some((a) => a.startsWith(prefix) && a.endsWith('qemu.pid'))) process.kill(Number(e), 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** Pids of live processes whose argv names a config file under dataDir. */
export function agentPids(dataDir: string): number[] {
  const prefix = path.join(dataDir, 'instances') + path.sep;
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      if (argv.some((a) => a.startsWith(prefix) && a.endsWith('agent.json')) && alive(Number(e))) out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}
