// Test harness: starts the real coffer-agent (the built launcher) as a child
// process in a temporary base dir, with gRPC clients for its services, and
// stops it (and so its datastore) in teardown.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, chmodSync, existsSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { credentials, Metadata, type ChannelCredentials, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { LifecycleServiceClient } from '../../proto/gen/coffer/agent/v1/lifecycle.js';
import { AccountServiceClient } from '../../proto/gen/coffer/agent/v1/accounts.js';
import { ConfigurationServiceClient } from '../../proto/gen/coffer/agent/v1/configuration.js';
import { BackupServiceClient } from '../../proto/gen/coffer/agent/v1/backup.js';
import { ReplicationServiceClient } from '../../proto/gen/coffer/agent/v1/replication.js';
import { freePort } from './ports.js';
import { stopAtExit } from './exit-net.js';
import { AGENT_NODE_FLAGS } from '../../lib/agent-node-flags.js';

export const REPO = path.resolve(import.meta.dirname, '..', '..');
export const AGENT_BIN = path.join(REPO, 'bin', 'coffer-agent');

export interface Clients {
  lifecycle: LifecycleServiceClient;
  accounts: AccountServiceClient;
  configuration: ConfigurationServiceClient;
  backup: BackupServiceClient;
  replication: ReplicationServiceClient;
  close(): void;
}

export function clientsFor(address: string, creds: ChannelCredentials = credentials.createInsecure()): Clients {
  const lifecycle = new LifecycleServiceClient(address, creds);
  const accounts = new AccountServiceClient(address, creds);
  const configuration = new ConfigurationServiceClient(address, creds);
  const backup = new BackupServiceClient(address, creds);
  const replication = new ReplicationServiceClient(address, creds);
  return {
    lifecycle,
    accounts,
    configuration,
    backup,
    replication,
    close() {
      for (const c of [lifecycle, accounts, configuration, backup, replication]) c.close();
    },
  };
}

/** Calls a unary method as a promise. */
export function call<Req, Res>(
  client: object,
  method: string,
  req: Req,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = (client as Record<string, Function>)[method]!.bind(client);
    fn(req, new Metadata(), (err: ServiceError | null, res: Res) => (err ? reject(err) : resolve(res)));
  });
}

/** Reads a server stream to its end; rejects with the final status error. */
export function collect<T>(stream: ClientReadableStream<T>): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const out: T[] = [];
    stream.on('data', (m: T) => out.push(m));
    stream.on('error', reject);
    stream.on('end', () => resolve(out));
  });
}

export interface AgentProcess {
  readonly proc: ChildProcess;
  readonly port: number;
  readonly address: string;
  readonly baseDir: string;
  readonly datastorePort: number;
  readonly clients: Clients;
  readonly logs: string[];
  /** SIGTERM and wait; resolves the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

export interface StartOptions {
  datastore?: string;
  baseDir?: string;
  datastorePort?: number;
  extraArgs?: string[];
  /** Insecure plaintext on loopback unless TLS args are given in extraArgs. */
  insecure?: boolean;
  /** The agent's node flags (default lib/agent-node-flags.ts's); the memory bench compares others. */
  nodeFlags?: readonly string[];
}

/** The environment a user's shell would give the agent: without tap's loaders. */
export function agentEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  for (const k of Object.keys(env)) if (k.startsWith('TAP') || k.startsWith('_TAP')) delete env[k];
  return env;
}

/**
 * The command and arguments that run `argv` (a program and its arguments)
 * with agentEnv() as it is: without tap's loaders. tap's processinfo, loaded
 * in every test process, hooks each spawn and puts its --import back into
 * NODE_OPTIONS (with its _TAPJS_PROCESSINFO_ variables), whatever env the
 * spawn gave: in a node child that is an ESM loader hook on every module
 * load, which about doubles the CPU of an agent's start, and the child's own
 * children inherit it (docs/performance.md, "Test suite time"). `env -u`
 * drops them again after the hook; env execs the program, so the pid is the
 * program's own.
 */
export function withoutTapLoaders(argv: readonly string[]): [string, string[]] {
  const unset = ['NODE_OPTIONS', ...Object.keys(process.env).filter((k) => k.startsWith('_TAP'))];
  return ['/usr/bin/env', [...unset.flatMap((k) => ['-u', k]), ...argv]];
}

/** A base dir the datastore's OS user can reach (mkdtemp makes 0700). */
export function tempBase(prefix = 'coffer-test-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

/** What the helpers need of a tap test: somewhere to register clean-up. */
export interface TestLike {
  teardown(fn: () => unknown): void;
}

export async function startAgent(
  t: TestLike,
  opts: StartOptions = {},
): Promise<AgentProcess> {
  const root = opts.baseDir ? null : tempBase();
  const baseDir = opts.baseDir ?? path.join(root!, 'base');
  const datastorePort = opts.datastorePort ?? (await freePort());
  const args = [
    ...(opts.nodeFlags ?? AGENT_NODE_FLAGS),
    AGENT_BIN,
    '--listen', '127.0.0.1:0',
    '--datastore', opts.datastore ?? 'mariadb',
    '--base-dir', baseDir,
    '--datastore-port', String(datastorePort),
    ...(opts.insecure === false ? [] : ['--insecure']),
    ...(opts.extraArgs ?? []),
  ];
  const proc = spawn(...withoutTapLoaders([process.execPath, ...args]), { stdio: ['ignore', 'pipe', 'pipe'], env: agentEnv() });
  const logs: string[] = [];
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  proc.stderr!.on('data', (d: Buffer) => logs.push(d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout! });
    rl.on('line', (line) => {
      logs.push(line);
      try {
        const m = JSON.parse(line) as { msg?: string; port?: number };
        if (m.msg === 'listening' && m.port) resolve(m.port);
      } catch {
        // not JSON
      }
    });
    void exited.then((code) => reject(new Error(`coffer-agent exited with ${code} before listening:\n${logs.join('\n')}`)));
  });
  const address = `127.0.0.1:${port}`;
  const clients = clientsFor(address);
  const agent: AgentProcess = {
    proc,
    port,
    address,
    baseDir,
    datastorePort,
    clients,
    logs,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      clients.close();
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
  const forget = stopAtExit(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    killLeftoverDatastore(baseDir);
  });
  t.teardown(async () => {
    await agent.stop();
    killLeftoverDatastore(baseDir);
    forget();
    if (root) rmSync(root, { recursive: true, force: true });
  });
  return agent;
}

/** Safety net for a test that failed midway: stop a datastore by the pid the agent recorded. */
export function killLeftoverDatastore(baseDir: string): void {
  const pidFile = path.join(baseDir, 'agent', 'datastore.pid');
  if (!existsSync(pidFile)) return;
  try {
    const { pid } = JSON.parse(readFileSync(pidFile, 'utf8')) as { pid: number };
    process.kill(-pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

/** True if a process with this pid exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

export function datastorePid(baseDir: string): number {
  const pidFile = path.join(baseDir, 'agent', 'datastore.pid');
  return existsSync(pidFile) ? (JSON.parse(readFileSync(pidFile, 'utf8')) as { pid: number }).pid : 0;
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false | null>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
