// coffer-config-drive: the image's first-boot step (systemd/
// coffer-config-drive.service). Finds the config drive by its label, copies
// its openstack/ tree out with xorriso (read-only access to the drive,
// checked to carry the config-2 volume id), checks everything
// meta_data.json lists (meta-data.ts) and writes the files under
// /etc/coffer all or nothing (install-files.ts). Every outcome is one plain
// line on stderr, which the unit sends to the journal and the serial
// console; exit 1 leaves the agent unstarted (its unit requires this one).
//
// xorriso reads the ISO 9660 volume in user space rather than the kernel
// mounting it: no filesystem module, no mount in a namespace, and the same
// code path in the image and in tests on hosts without isofs. (Nova's vfat
// config drives are not read; Nova writes ISO 9660 unless told otherwise.)
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { CONFIG_DRIVE_LABEL } from '../../lib/config-drive.js';
import { createLogger } from '../../lib/logger.js';
import { ProcessRunner } from '../../lib/process-runner.js';
import { installFiles } from './install-files.js';
import { ConfigDriveError, readDrive } from './meta-data.js';

const PROGRAM = 'coffer-config-drive';

export interface FirstbootArgs {
  label: string;
  /** Where the drive's openstack/ tree is copied while it is read (a fresh private directory is made in it). */
  workDir: string;
  /** The drive's device (or an ISO file); default: found by label. */
  device?: string;
  /** The guest's root; "/" except in tests. */
  root: string;
  waitSeconds: number;
}

const USAGE = `usage: ${PROGRAM} [--label config-2] [--work-dir DIR] [--device DEV] [--root DIR] [--wait-seconds N]`;

export function parseArgs(argv: readonly string[]): FirstbootArgs {
  const a: FirstbootArgs = { label: CONFIG_DRIVE_LABEL, workDir: '/tmp', root: '/', waitSeconds: 60 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    if (value === undefined || value.startsWith('--')) throw new ConfigDriveError(`${flag} needs a value; ${USAGE}`);
    i++;
    switch (flag) {
      case '--label': a.label = value; break;
      case '--work-dir': a.workDir = path.resolve(value); break;
      case '--device': a.device = path.resolve(value); break;
      case '--root': a.root = path.resolve(value); break;
      case '--wait-seconds': {
        const n = Number(value);
        if (!Number.isFinite(n) || n < 0) throw new ConfigDriveError(`--wait-seconds must be a number of seconds, got "${value}"`);
        a.waitSeconds = n;
        break;
      }
      default: throw new ConfigDriveError(`unknown option ${flag}; ${USAGE}`);
    }
  }
  return a;
}

/** The device udev names by label, or blkid finds; polled until `waitSeconds` pass. */
async function findDevice(runner: ProcessRunner, label: string, waitSeconds: number): Promise<string> {
  const byLabel = `/dev/disk/by-label/${label}`;
  const deadline = Date.now() + waitSeconds * 1000;
  for (;;) {
    if (existsSync(byLabel)) return byLabel;
    const found = await runner.run(['blkid', '-L', label]).then((r) => r.stdout.trim(), () => '');
    if (found) return found;
    if (Date.now() >= deadline) throw new ConfigDriveError(`no config drive labelled ${label} appeared within ${waitSeconds} s (is the VM's config drive attached?)`);
    await sleep(250);
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  const say = (line: string): void => void process.stderr.write(`${PROGRAM}: ${line}\n`);
  let args: FirstbootArgs;
  try {
    args = parseArgs(argv);
  } catch (err) {
    say((err as Error).message);
    return 2;
  }
  return firstboot(args, say);
}

/** Installs the drive's files; 0 when done, 1 when refused or failed (`say` has told why). */
export async function firstboot(args: FirstbootArgs, say: (line: string) => void): Promise<number> {
  const runner = new ProcessRunner(createLogger({ name: PROGRAM, level: 'silent' }));
  let work: string | undefined;
  try {
    const device = args.device ?? (await findDevice(runner, args.label, args.waitSeconds));
    work = mkdtempSync(path.join(args.workDir, 'coffer-config-drive-'));
    try {
      // "stdio:": xorriso refuses a /dev path that is not an optical drive unless told it is a plain file.
      await runner.run(['xorriso', '-osirrox', 'on', '-assert_volid', args.label, 'FATAL', '-indev', `stdio:${realpathSync(device)}`, '-extract', '/openstack', path.join(work, 'openstack')]);
    } catch (err) {
      throw new ConfigDriveError(`cannot read ${device} as a config drive labelled ${args.label}: ${(err as Error).message.split('\n').filter((l) => /FATAL|FAILURE|SORRY/.test(l)).join(' ') || (err as Error).message}`);
    }
    const drive = readDrive(work);
    const written = installFiles(drive.files, { root: args.root });
    say(`instance ${drive.uuid}: wrote ${written.length} files from ${device} (${drive.files.map((f) => f.path).join(', ')})`);
    return 0;
  } catch (err) {
    if (err instanceof ConfigDriveError) say(`refused the config drive, nothing was written: ${err.message}`);
    else say(`failed, nothing was written: ${(err as Error).stack ?? err}`);
    return 1;
  } finally {
    if (work) rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (err) => {
    process.stderr.write(`${PROGRAM}: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
