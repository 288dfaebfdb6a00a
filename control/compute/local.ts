// The local compute driver: an instance is a coffer-agent process on this
// host with its own directory and ports. The agent's config and certificates
// are injected as files (the local equivalent of a config drive). Agents run
// in their own process groups and outlive the control (like VMs outlive a
// Nova restart); after a restart the driver finds them again through /proc.
//
// <data-dir>/instances/<id>/        0711 (the datastore's OS user must traverse it)
//   agent.json                      0600 the injected boot config
//   tls/                            0700 dir, files 0600:
//     instance.{crt,key} ca.crt       the agent's identity (never copied further)
//     datastore.{crt,key}             the datastore's serving pair
//     backup.key                      its project's backup wrapping key (never the deployment's)
//   base/                           0755 the agent's base dir
//   agent.log                       the agent's log
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../lib/logger.js';
import type { ProcessRunner } from '../../lib/process-runner.js';
import { findByArg, runs, signal, waitGone, alive } from './proc.js';
import { allocatePorts } from './ports.js';
import type { AgentBootConfig, Allocation, CertSource, ComputeDriver, ComputeStatus, ResourceRequest } from './driver.js';
import { AGENT_NODE_FLAGS } from '../../lib/agent-node-flags.js';
import { BOOT_CONFIG_VERSION, writeBootConfig, type BootConfig } from '../../lib/boot-config.js';

export interface LocalDriverDeps {
  readonly dataDir: string;
  readonly runner: ProcessRunner;
  readonly log: Logger;
  /** bin/coffer-agent */
  readonly agentBin: string;
  /** Ports of live instances, so none is handed out twice. */
  readonly usedPorts: () => Set<number>;
  /** How long an agent may take to stop its datastore on delete. */
  readonly stopGraceMs?: number;
}

export class LocalDriver implements ComputeDriver {
  readonly name = 'local';
  private readonly root: string;

  constructor(private readonly deps: LocalDriverDeps) {
    this.root = path.join(deps.dataDir, 'instances');
  }

  /** An instance's agent base dir (its datastore's sockets live under it). */
  static baseDir(dataDir: string, id: string): string {
    return path.join(dataDir, 'instances', id, 'base');
  }

  private dir(id: string): string {
    if (!/^[a-z0-9-]+$/.test(id)) throw new TypeError(`instance id "${id}" is not allowed in a path`);
    return path.join(this.root, id);
  }

  private configPath(id: string): string {
    return path.join(this.dir(id), 'agent.json');
  }

  async allocate(id: string, resources: ResourceRequest, existing: Allocation | null): Promise<Allocation> {
    const dir = this.dir(id);
    mkdirSync(this.root, { recursive: true, mode: 0o711 });
    chmodSync(this.deps.dataDir, 0o711);
    chmodSync(this.root, 0o711);
    mkdirSync(path.join(dir, 'base'), { recursive: true });
    chmodSync(dir, 0o711);
    chmodSync(path.join(dir, 'base'), 0o755);
    // The local driver has no volumes: the size is recorded, not enforced.
    const base = existing ?? (await this.newAllocation(dir));
    return this.withClusterPorts(base, resources.clusterPorts ?? []);
  }

  private async newAllocation(dir: string): Promise<Allocation> {
    const [agentPort, datastorePort] = await allocatePorts(2, this.deps.usedPorts());
    return { agentAddress: `127.0.0.1:${agentPort}`, datastoreHost: '127.0.0.1', datastorePort: datastorePort!, details: { dir } };
  }

  /**
   * A cluster member's named ports on 127.0.0.1, so several members share
   * this host: the ones the allocation has are kept (same id, same answer),
   * missing names get a port none of the live instances holds.
   */
  private async withClusterPorts(a: Allocation, names: readonly string[]): Promise<Allocation> {
    const have = a.clusterPorts ?? {};
    const missing = names.filter((n) => !Object.hasOwn(have, n));
    if (!missing.length) return a;
    const agentPort = Number(a.agentAddress.split(':').pop());
    const taken = new Set([...this.deps.usedPorts(), agentPort, a.datastorePort, ...Object.values(have)]);
    const ports = await allocatePorts(missing.length, taken);
    return { ...a, clusterPorts: { ...have, ...Object.fromEntries(missing.map((n, i) => [n, ports[i]!])) } };
  }

  async injectConfig(id: string, a: Allocation, config: AgentBootConfig, certs: CertSource): Promise<void> {
    const dir = this.dir(id);
    const tls = path.join(dir, 'tls');
    mkdirSync(tls, { recursive: true, mode: 0o700 });
    chmodSync(tls, 0o700);
    const place = (from: string, name: string): string => {
      const to = path.join(tls, name);
      copyFileSync(from, to);
      chmodSync(to, 0o600);
      return to;
    };
    const boot: BootConfig = {
      version: BOOT_CONFIG_VERSION,
      instanceId: config.instanceId,
      listen: a.agentAddress,
      datastore: config.datastore,
      datastoreVersion: config.datastoreVersion,
      baseDir: LocalDriver.baseDir(this.deps.dataDir, id),
      datastorePort: a.datastorePort,
      datastoreBind: a.datastoreHost,
      tlsCert: place(certs.cert, 'instance.crt'),
      tlsKey: place(certs.key, 'instance.key'),
      tlsCa: place(certs.ca, 'ca.crt'),
      datastoreTlsCert: place(certs.datastore.cert, 'datastore.crt'),
      datastoreTlsKey: place(certs.datastore.key, 'datastore.key'),
      ...(certs.datastorePeer && existsSync(certs.datastorePeer.cert)
        ? { datastoreTlsPeerCert: place(certs.datastorePeer.cert, 'datastore-peer.crt'), datastoreTlsPeerKey: place(certs.datastorePeer.key, 'datastore-peer.key') }
        : {}),
      // Instances issued before it existed have none: the agent falls back to tlsCa.
      datastoreTlsCa: certs.datastoreCa ? place(certs.datastoreCa, 'datastore-ca.crt') : place(certs.ca, 'ca.crt'),
      logLevel: config.logLevel,
      logFile: path.join(dir, 'agent.log'),
      controlEndpoint: config.controlEndpoint,
      heartbeatSeconds: config.heartbeatSeconds,
      backupKeyFile: place(config.backupKeyFile, 'backup.key'),
      backupDir: config.backupDir,
      // Swift or S3 credentials, if any: the file is 0600, like the key.
      backup: { defaultStorage: config.backupStorage.defaultStorage, storages: config.backupStorage.storages },
    };
    writeBootConfig(this.configPath(id), boot);
  }

  /** The running agent's pid: the recorded one if it still runs our config, else found through /proc. */
  private agentPid(id: string): number {
    const marker = this.configPath(id);
    const pidFile = path.join(this.dir(id), 'agent.pid');
    if (existsSync(pidFile)) {
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      if (runs(pid, marker)) return pid;
    }
    return findByArg(marker)[0] ?? 0;
  }

  async create(id: string, _a: Allocation): Promise<void> {
    if (this.agentPid(id)) return;
    const dir = this.dir(id);
    // The agent logs to its own file (logFile in its config): it outlives
    // this process, so it must not depend on our pipes.
    const child = this.deps.runner.spawn([process.execPath, ...AGENT_NODE_FLAGS, this.deps.agentBin, '--config', this.configPath(id)], {
      stdout: 'ignore',
      cwd: dir,
      env: { NODE_OPTIONS: '' },
      logger: this.deps.log.child({ instanceId: id }),
    });
    writeFileSync(path.join(dir, 'agent.pid'), `${child.pid}\n`);
    void child.exited.then((e) => this.deps.log.info({ instanceId: id, ...e }, 'agent exited'));
    this.deps.log.info({ instanceId: id, pid: child.pid }, 'agent started');
  }

  async status(id: string, a: Allocation | null): Promise<ComputeStatus> {
    if (!a || !existsSync(this.configPath(id))) return existsSync(this.dir(id)) ? 'stopped' : 'missing';
    return this.agentPid(id) ? 'running' : 'stopped';
  }

  async delete(id: string, _a: Allocation | null): Promise<void> {
    const dir = this.dir(id);
    if (!existsSync(dir)) return;
    const grace = this.deps.stopGraceMs ?? 60_000;
    for (let pid = this.agentPid(id); pid; pid = this.agentPid(id)) {
      // SIGTERM: the agent stops its datastore cleanly, then exits.
      signal(pid, 'SIGTERM');
      if (!(await waitGone(pid, grace))) {
        this.deps.log.warn({ instanceId: id, pid }, 'agent did not stop in time; killing its process group');
        signal(-pid, 'SIGKILL');
        await waitGone(pid, 5000);
      }
    }
    // A datastore left by an agent that was killed hard.
    const dsPidFile = path.join(dir, 'base', 'agent', 'datastore.pid');
    if (existsSync(dsPidFile)) {
      try {
        const { pid } = JSON.parse(readFileSync(dsPidFile, 'utf8')) as { pid: number };
        if (alive(pid)) {
          signal(-pid, 'SIGKILL');
          await waitGone(pid, 5000);
        }
      } catch {
        // unreadable: nothing to stop
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }

  async adopt(instances: ReadonlyArray<{ id: string; allocation: Allocation; shouldRun: boolean }>): Promise<void> {
    for (const i of instances) {
      const pid = existsSync(this.configPath(i.id)) ? this.agentPid(i.id) : 0;
      if (pid) {
        writeFileSync(path.join(this.dir(i.id), 'agent.pid'), `${pid}\n`);
        this.deps.log.info({ instanceId: i.id, pid }, 'adopted running agent');
      } else if (i.shouldRun && existsSync(this.configPath(i.id))) {
        this.deps.log.warn({ instanceId: i.id }, 'agent was not running; starting it');
        await this.create(i.id, i.allocation);
      }
    }
  }
}
