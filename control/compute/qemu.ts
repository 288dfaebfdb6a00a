// The qemu compute driver: an instance is a QEMU virtual machine booted
// from the images/ qcow2, its agent configured by a Nova-format config
// drive (lib/config-drive.ts), reached through host loopback ports that
// QEMU's restricted user-mode network forwards into the guest. VMs are
// daemonized and outlive the control; after a restart the driver finds
// them again by their pid file (checked against /proc, pids are reused)
// and QMP socket, and never starts a second QEMU for one instance (QEMU
// locks its pid file too).
//
// <data-dir>/images/base-<key>.qcow2  the base image, cached (base-image.ts)
// <data-dir>/vms/<id>/                0700
//   root.qcow2                        overlay on the base image
//   data.raw                          the data volume (sparse), serial coffer-data
//   config-2.iso                      0600 the config drive (keys inside)
//   console.log                       the serial console, kept with the instance
//   qmp.sock, qemu.pid
import { existsSync, mkdirSync, renameSync, rmSync, truncateSync, openSync, closeSync, statSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../lib/logger.js';
import type { ProcessRunner } from '../../lib/process-runner.js';
import { agentGaveUp, consoleTail } from './console-log.js';
import { cachedBase } from './base-image.js';
import { writeConfigDrive } from './config-drive-writer.js';
import type { AgentBootConfig, Allocation, CertSource, ComputeDriver, ComputeStatus, ResourceRequest } from './driver.js';
import { guestConfig } from './guest-config.js';
import { allocatePorts } from './ports.js';
import { findByArg, runs, signal, waitGone } from './proc.js';
import { qemuArgv, DATA_NODE, type VmSpec } from './qemu-argv.js';
import { qmp } from './qmp.js';

const GIB = 1024 ** 3;

export interface QemuDriverDeps {
  readonly dataDir: string;
  readonly runner: ProcessRunner;
  readonly log: Logger;
  /** The operator's base image (--image), qcow2. */
  readonly image: string;
  /** The conductor's port on the host's loopback (guests reach it through the guest forward). */
  readonly conductorPort: () => number;
  /** Ports of live instances, so none is handed out twice. */
  readonly usedPorts: () => Set<number>;
  /** How long a create waits for a booting VM's agent to answer. */
  readonly bootTimeoutMs: number;
  /** How long a guest gets to power off on its own (restart) before QEMU is told to quit. */
  readonly powerdownGraceMs?: number;
  readonly qemu?: string;
  /** The relay QEMU runs per guest connection to the conductor: socat's path. */
  readonly socat?: string;
  /** Try KVM first. Default: kvmUsable(). */
  readonly kvm?: boolean;
}

/**
 * Whether KVM can run guests here: /dev/kvm exists and the CPU has hardware
 * virtualisation (vmx or svm). A /dev/kvm on a CPU without either (seen on
 * a nested cloud VM) lets QEMU start with KVM enabled and then the guest
 * never runs an instruction: TCG is the one that boots there.
 */
export function kvmUsable(): boolean {
  if (!existsSync('/dev/kvm')) return false;
  try {
    return /^flags\s*:.*\b(vmx|svm)\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return false;
  }
}

/** A failure that asking again will not mend (a bad request, a missing capability). */
export class QemuDriverError extends Error {
  readonly retryable = false;
  constructor(message: string) {
    super(message);
    this.name = 'QemuDriverError';
  }
}

export class QemuDriver implements ComputeDriver {
  readonly name = 'qemu';
  readonly bootTimeoutMs: number;
  private readonly root: string;
  private readonly imageCache: string;

  constructor(private readonly deps: QemuDriverDeps) {
    this.root = path.join(deps.dataDir, 'vms');
    this.imageCache = path.join(deps.dataDir, 'images');
    this.bootTimeoutMs = deps.bootTimeoutMs;
  }

  private dir(id: string): string {
    if (!/^[a-z0-9-]+$/.test(id)) throw new TypeError(`instance id "${id}" is not allowed in a path`);
    return path.join(this.root, id);
  }

  /** Where an instance's files are. */
  files(id: string) {
    const d = this.dir(id);
    return {
      dir: d,
      rootDisk: path.join(d, 'root.qcow2'),
      dataDisk: path.join(d, 'data.raw'),
      configDrive: path.join(d, 'config-2.iso'),
      consoleLog: path.join(d, 'console.log'),
      qmpSocket: path.join(d, 'qmp.sock'),
      pidFile: path.join(d, 'qemu.pid'),
    };
  }

  async allocate(id: string, resources: ResourceRequest, existing: Allocation | null): Promise<Allocation> {
    if (resources.clusterPorts?.length) {
      throw new QemuDriverError('the qemu driver does not run cluster members yet: its guests reach nothing but the conductor, not each other');
    }
    mkdirSync(this.dir(id), { recursive: true, mode: 0o700 });
    const details = { dir: this.dir(id), vcpus: resources.vcpus, ramMb: resources.ramMb, volumeGb: resources.volumeGb };
    if (existing) return { ...existing, details: { ...details, ...existing.details } };
    const [agentPort, datastorePort] = await allocatePorts(2, this.deps.usedPorts());
    return { agentAddress: `127.0.0.1:${agentPort}`, datastoreHost: '127.0.0.1', datastorePort: datastorePort!, details };
  }

  async injectConfig(id: string, a: Allocation, config: AgentBootConfig, certs: CertSource): Promise<void> {
    const g = guestConfig(a, config, certs);
    await writeConfigDrive(
      this.deps.runner,
      this.files(id).configDrive,
      { uuid: id, name: id, hostname: `coffer-${id.slice(0, 8)}`, project_id: '', meta: { coffer_format: String(g.boot.version) } },
      g.files,
    );
  }

  /** The running QEMU's pid: the pid file's if it runs this instance's command line, else found through /proc. */
  private vmPid(id: string): number {
    const { pidFile } = this.files(id);
    if (existsSync(pidFile)) {
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      if (runs(pid, pidFile)) return pid;
    }
    return existsSync(this.dir(id)) ? (findByArg(pidFile)[0] ?? 0) : 0;
  }

  private spec(id: string, a: Allocation): VmSpec {
    const f = this.files(id);
    const num = (k: string): number => {
      const v = Number(a.details[k]);
      if (!Number.isFinite(v) || v <= 0) throw new QemuDriverError(`instance ${id}'s allocation has no ${k}: it was not allocated by the qemu driver`);
      return v;
    };
    return {
      name: id,
      vcpus: num('vcpus'),
      ramMb: num('ramMb'),
      rootDisk: f.rootDisk,
      dataDisk: f.dataDisk,
      configDrive: f.configDrive,
      consoleLog: f.consoleLog,
      qmpSocket: f.qmpSocket,
      pidFile: f.pidFile,
      agentPort: Number(a.agentAddress.split(':').pop()),
      datastorePort: a.datastorePort,
      conductorPort: this.deps.conductorPort(),
      relay: [this.deps.socat ?? '/usr/bin/socat', 'STDIO'],
      kvm: this.deps.kvm ?? kvmUsable(),
    };
  }

  async create(id: string, a: Allocation): Promise<void> {
    if (this.vmPid(id)) return;
    const f = this.files(id);
    if (!existsSync(f.configDrive)) throw new Error(`instance ${id} has no config drive yet (${f.configDrive})`);
    const spec = this.spec(id, a);
    if (!existsSync(f.rootDisk)) {
      const base = cachedBase(this.deps.image, this.imageCache);
      const tmp = `${f.rootDisk}.tmp`;
      await this.deps.runner.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', base, tmp], { timeoutMs: 60_000 });
      renameSync(tmp, f.rootDisk);
    }
    if (!existsSync(f.dataDisk)) {
      // Sparse: the volume takes host space as the datastore writes. The
      // agent makes its filesystem at Prepare.
      const tmp = `${f.dataDisk}.tmp`;
      closeSync(openSync(tmp, 'w', 0o600));
      truncateSync(tmp, Number(a.details.volumeGb ?? 1) * GIB);
      renameSync(tmp, f.dataDisk);
    }
    rmSync(f.qmpSocket, { force: true });
    const started = Date.now();
    // -daemonize: the command returns once the VM runs (or has failed to start, with QEMU's reason).
    await this.deps.runner.run(qemuArgv(this.deps.qemu ?? 'qemu-system-x86_64', spec), { timeoutMs: 120_000 });
    this.deps.log.info({ instanceId: id, pid: this.vmPid(id), agentAddress: a.agentAddress, ms: Date.now() - started, vcpus: spec.vcpus, ramMb: spec.ramMb, kvm: spec.kvm }, 'VM powered on');
  }

  async status(id: string, a: Allocation | null): Promise<ComputeStatus> {
    if (this.vmPid(id)) return 'running';
    return a && existsSync(this.dir(id)) ? 'stopped' : 'missing';
  }

  /** Ends the VM: QMP quit (a power cut: its disks go next, or it boots again), then signals. */
  private async stopVm(id: string, pid: number): Promise<void> {
    try {
      await qmp(this.files(id).qmpSocket, 'quit', undefined, 5000);
    } catch (err) {
      this.deps.log.warn({ instanceId: id, err: (err as Error).message }, 'QMP quit failed; signalling QEMU');
    }
    if (await waitGone(pid, 10_000)) return;
    signal(pid, 'SIGTERM');
    if (await waitGone(pid, 10_000)) return;
    this.deps.log.warn({ instanceId: id, pid }, 'QEMU did not stop; killing it');
    signal(pid, 'SIGKILL');
    await waitGone(pid, 5000);
  }

  async delete(id: string, _a: Allocation | null): Promise<void> {
    const dir = this.dir(id);
    if (!existsSync(dir)) return;
    for (let pid = this.vmPid(id); pid; pid = this.vmPid(id)) await this.stopVm(id, pid);
    rmSync(dir, { recursive: true, force: true });
  }

  /**
   * Reboots the VM: an ACPI power-off lets systemd stop the agent, which
   * stops its datastore cleanly; a guest that has not gone in the grace
   * period is stopped hard. Then it boots again, on the same disks.
   */
  async restart(id: string, a: Allocation): Promise<void> {
    const pid = this.vmPid(id);
    if (pid) {
      try {
        await qmp(this.files(id).qmpSocket, 'system_powerdown');
      } catch (err) {
        this.deps.log.warn({ instanceId: id, err: (err as Error).message }, 'QMP system_powerdown failed');
      }
      if (!(await waitGone(pid, this.deps.powerdownGraceMs ?? 120_000))) {
        this.deps.log.warn({ instanceId: id, pid }, 'the guest did not power off in time; stopping the VM');
        await this.stopVm(id, pid);
      }
    }
    await this.create(id, a);
  }

  /** Grows the data disk (live, through QMP, while the VM runs); the agent's ResizeFilesystem grows the filesystem after. */
  async resizeVolume(id: string, _a: Allocation, volumeGb: number): Promise<void> {
    const f = this.files(id);
    const bytes = volumeGb * GIB;
    const now = existsSync(f.dataDisk) ? statSync(f.dataDisk).size : 0;
    if (bytes < now) throw new QemuDriverError(`the volume of instance ${id} is ${now / GIB} GB; it cannot shrink to ${volumeGb} GB`);
    if (this.vmPid(id)) {
      // block_resize to the size it has already does nothing: a step run again is fine.
      await qmp(f.qmpSocket, 'block_resize', { 'node-name': DATA_NODE, size: bytes }, 60_000);
    } else if (existsSync(f.dataDisk)) {
      truncateSync(f.dataDisk, bytes);
    }
  }

  consoleTail(id: string): string {
    return consoleTail(this.files(id).consoleLog);
  }

  bootFailure(id: string): string | null {
    return agentGaveUp(this.files(id).consoleLog);
  }

  async adopt(instances: ReadonlyArray<{ id: string; allocation: Allocation; shouldRun: boolean }>): Promise<void> {
    for (const i of instances) {
      if (!existsSync(path.join(this.root, i.id))) continue;
      const pid = this.vmPid(i.id);
      if (pid) {
        this.deps.log.info({ instanceId: i.id, pid }, 'adopted running VM');
      } else if (i.shouldRun && existsSync(this.files(i.id).configDrive)) {
        this.deps.log.warn({ instanceId: i.id }, 'VM was not running; booting it');
        try {
          await this.create(i.id, i.allocation);
        } catch (err) {
          this.deps.log.error({ instanceId: i.id, err: (err as Error).message }, 'VM could not be booted');
        }
      }
    }
  }
}
