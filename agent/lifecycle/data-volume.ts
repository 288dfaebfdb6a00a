// The instance's own data disk (the boot config's dataVolume; Trove's
// device_path and mount_point). The agent's base dir, and so the datastore's
// data, lives on it (config.ts requires the mount point to hold the base dir):
//
// - Prepare, first of all (prepare.ts): a device with no filesystem gets an
//   ext4 one (blkid says which; mkfs.ext4), and it is mounted at the mount
//   point. What the agent had written under the mount point before (its
//   state, when the base dir is on the volume, as in the VM images) is
//   carried onto the new filesystem first, so nothing is hidden under it.
// - Agent start (main.ts), before anything reads the base dir and before the
//   datastore starts: a device that has a filesystem is mounted again
//   (after a reboot). A blank one is left for Prepare: only Prepare formats.
// - ResizeFilesystem: resize2fs grows the mounted filesystem online to the
//   device's size (the disk was grown underneath: QMP block_resize, Nova's
//   volume extend).
//
// Mounting is idempotent: the device already mounted at the mount point is
// fine; mounted elsewhere, or another device at the mount point, is an
// error naming both. Every command goes through the process runner.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../lib/logger.js';
import { CommandError, type ProcessRunner } from '../../lib/process-runner.js';
import { AgentError } from '../errors.js';
import { deviceNumber, mounts } from './mountinfo.js';

export interface DataVolumeSpec {
  readonly devicePath: string;
  readonly mountPoint: string;
}

/** A command's own limit: mkfs of a large disk takes a while, the others are quick. */
const MKFS_TIMEOUT_MS = 10 * 60_000;
const TOOL_TIMEOUT_MS = 5 * 60_000;

export class DataVolume {
  constructor(
    readonly spec: DataVolumeSpec,
    private readonly runner: ProcessRunner,
    private readonly log: Logger,
  ) {}

  /** The device's "major:minor"; a clear error when the path is no block device. */
  private device(): string {
    const { devicePath } = this.spec;
    if (!existsSync(devicePath)) throw new AgentError('AGENT_ERR_NOT_READY', `data volume device ${devicePath} does not exist`);
    const st = statSync(devicePath);
    if (!st.isBlockDevice()) throw new AgentError('AGENT_ERR_NOT_READY', `data volume device ${devicePath} is not a block device`);
    return deviceNumber(st.rdev);
  }

  /** The filesystem type on the device, or '' when it has none (blkid exits 2). */
  private async fsType(signal?: AbortSignal): Promise<string> {
    try {
      const r = await this.runner.run(['blkid', '-p', '-o', 'value', '-s', 'TYPE', this.spec.devicePath], { signal, timeoutMs: TOOL_TIMEOUT_MS });
      return r.stdout.trim();
    } catch (err) {
      if (err instanceof CommandError && err.exitCode === 2) return '';
      throw err;
    }
  }

  /**
   * Whether the device is mounted at the mount point (true), nowhere
   * (false); an error when it is mounted elsewhere or another device holds
   * the mount point.
   */
  private mountedHere(dev: string): boolean {
    const { devicePath, mountPoint } = this.spec;
    const target = existsSync(mountPoint) ? realpathSync(mountPoint) : path.resolve(mountPoint);
    const all = mounts();
    const ours = all.filter((m) => m.device === dev);
    if (ours.some((m) => m.mountPoint === target)) return true;
    if (ours.length) {
      throw new AgentError('AGENT_ERR_NOT_READY', `data volume device ${devicePath} is mounted at ${ours.map((m) => m.mountPoint).join(', ')}, not at ${mountPoint}; unmount it first`);
    }
    const other = [...all].reverse().find((m) => m.mountPoint === target);
    if (other) {
      throw new AgentError('AGENT_ERR_NOT_READY', `${mountPoint} already has another filesystem mounted (device ${other.device}, ${other.fsType}), not data volume device ${devicePath}`);
    }
    return false;
  }

  private async mount(signal?: AbortSignal): Promise<void> {
    mkdirSync(this.spec.mountPoint, { recursive: true });
    await this.runner.run(['mount', '--', this.spec.devicePath, this.spec.mountPoint], { signal, timeoutMs: TOOL_TIMEOUT_MS });
    this.log.info({ device: this.spec.devicePath, mountPoint: this.spec.mountPoint }, 'data volume mounted');
  }

  /** At agent start: mount a device that has a filesystem (after a reboot). Never formats. */
  async attachAtBoot(): Promise<void> {
    const { devicePath } = this.spec;
    if (!existsSync(devicePath)) {
      this.log.warn({ device: devicePath }, 'the data volume device does not exist (yet); Prepare will fail until it does');
      return;
    }
    if (this.mountedHere(this.device())) return;
    if (!(await this.fsType())) {
      this.log.info({ device: devicePath }, 'the data volume has no filesystem yet: Prepare makes one');
      return;
    }
    await this.mount();
  }

  /** At Prepare: a filesystem if the device has none, then mounted at the mount point. */
  async prepare(signal: AbortSignal): Promise<void> {
    const dev = this.device();
    if (this.mountedHere(dev)) return;
    const { devicePath } = this.spec;
    if (await this.fsType(signal)) return this.mount(signal);
    this.log.info({ device: devicePath }, 'making an ext4 filesystem on the data volume');
    await this.runner.run(['mkfs.ext4', '-q', '-L', 'coffer-data', devicePath], { signal, timeoutMs: MKFS_TIMEOUT_MS });
    await this.carryOver(signal);
    await this.mount(signal);
  }

  /**
   * What the mount point holds already (the agent's state, when the base
   * dir is on the volume) goes onto the new filesystem, owners and modes
   * kept (cp -a), then leaves the disk underneath, where a mount would
   * only hide it.
   */
  private async carryOver(signal: AbortSignal): Promise<void> {
    const { devicePath, mountPoint } = this.spec;
    if (!existsSync(mountPoint) || readdirSync(mountPoint).length === 0) return;
    const staging = mkdtempSync(path.join(path.dirname(path.resolve(mountPoint)), '.coffer-volume-'));
    try {
      await this.runner.run(['mount', '--', devicePath, staging], { signal, timeoutMs: TOOL_TIMEOUT_MS });
      try {
        await this.runner.run(['cp', '-a', '--', `${mountPoint}/.`, `${staging}/`], { signal, timeoutMs: TOOL_TIMEOUT_MS });
      } finally {
        await this.runner.run(['umount', '--', staging], { timeoutMs: TOOL_TIMEOUT_MS });
      }
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
    for (const e of readdirSync(mountPoint)) rmSync(path.join(mountPoint, e), { recursive: true, force: true });
  }

  /**
   * ResizeFilesystem: the mounted filesystem grown online to the device's
   * size. A kernel that refuses the online grow (the agent lacks
   * CAP_SYS_RESOURCE: a container, a unit that dropped it) gets Trove's
   * offline way instead: the datastore stopped, the filesystem unmounted,
   * checked (e2fsck -f) and grown, mounted again and the datastore started
   * again. Says which way it went.
   */
  async resize(signal: AbortSignal | undefined, datastore: { stop(): Promise<boolean>; start(): Promise<void> }): Promise<'online' | 'offline'> {
    const { devicePath, mountPoint } = this.spec;
    if (!this.mountedHere(this.device())) {
      throw new AgentError('AGENT_ERR_NOT_READY', `data volume device ${devicePath} is not mounted at ${mountPoint}; Prepare the instance first`);
    }
    const type = await this.fsType(signal);
    if (!/^ext[234]$/.test(type)) throw new AgentError('AGENT_ERR_NOT_READY', `the data volume's filesystem is ${type || 'unknown'}; only ext2/3/4 are grown (resize2fs)`);
    try {
      await this.runner.run(['resize2fs', devicePath], { signal, timeoutMs: TOOL_TIMEOUT_MS });
      this.log.info({ device: devicePath }, 'data volume filesystem grown online');
      return 'online';
    } catch (err) {
      if (!(err instanceof CommandError && /permission denied|operation not permitted/i.test(err.stderrTail))) throw growFailed(devicePath, err);
      this.log.warn({ device: devicePath, err: err.stderrTail }, 'the kernel refused an online grow (no CAP_SYS_RESOURCE): growing the filesystem offline, the datastore stopped');
    }
    const wasRunning = await datastore.stop();
    try {
      await this.runner.run(['umount', mountPoint], { timeoutMs: TOOL_TIMEOUT_MS });
      try {
        await this.runner.run(['e2fsck', '-f', '-p', devicePath], { timeoutMs: MKFS_TIMEOUT_MS }).catch((err: unknown) => {
          // 1: errors were found and corrected; the filesystem is fine now.
          if (!(err instanceof CommandError && err.exitCode === 1)) throw err;
        });
        await this.runner.run(['resize2fs', devicePath], { timeoutMs: MKFS_TIMEOUT_MS });
      } catch (err) {
        throw growFailed(devicePath, err);
      } finally {
        await this.mount();
      }
    } finally {
      if (wasRunning) await datastore.start();
    }
    this.log.info({ device: devicePath }, 'data volume filesystem grown offline');
    return 'offline';
  }
}

function growFailed(devicePath: string, err: unknown): AgentError {
  return new AgentError('AGENT_ERR_DATASTORE', `growing the filesystem on data volume device ${devicePath} failed: ${(err as Error).message}`, { cause: err });
}
