// Writes a config drive the way OpenStack Nova does (lib/config-drive.ts):
// an ISO 9660 volume with Joliet and Rock Ridge, labelled config-2, holding
// openstack/latest/meta_data.json and one openstack/content/NNNN file per
// entry of its `files` list. It carries the instance's private keys, so
// everything is staged 0600 in a 0700 directory beside the ISO, the ISO is
// 0600, and no byte of it goes on a command line. The ISO appears under its
// name complete or not at all (written to .tmp, then renamed).
import { chmodSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CONFIG_DRIVE_LABEL, CONTENT_DIR, META_DATA_PATH, contentPath, type MetaData } from '../../lib/config-drive.js';
import type { ProcessRunner } from '../../lib/process-runner.js';
import type { GuestFile } from './guest-config.js';

export type ConfigDriveMeta = Omit<MetaData, 'files'>;

export async function writeConfigDrive(runner: ProcessRunner, iso: string, meta: ConfigDriveMeta, files: readonly GuestFile[], signal?: AbortSignal): Promise<void> {
  for (const f of files) {
    if (!path.posix.isAbsolute(f.path)) throw new TypeError(`config drive file path "${f.path}" must be absolute in the guest`);
  }
  const staging = `${iso}.d`;
  const tmp = `${iso}.tmp`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { mode: 0o700 });
  try {
    const write = (rel: string, content: Buffer | string) => {
      const to = path.join(staging, rel);
      mkdirSync(path.dirname(to), { recursive: true, mode: 0o700 });
      writeFileSync(to, content, { mode: 0o600 });
    };
    const listed = files.map((f, i) => ({ path: f.path, content_path: contentPath(i) }));
    files.forEach((f, i) => write(path.join('openstack', listed[i]!.content_path), f.content));
    const metaData: MetaData = { ...meta, files: listed };
    write(META_DATA_PATH, `${JSON.stringify(metaData)}\n`);
    mkdirSync(path.join(staging, CONTENT_DIR), { recursive: true, mode: 0o700 });
    // Nova's genisoimage line (nova/virt/configdrive.py), as xorriso's
    // mkisofs emulation takes it, except -R for -r: Rock Ridge keeps the
    // staged 0600/0700 modes instead of making every file world-readable.
    await runner.run(
      ['xorriso', '-as', 'mkisofs', '-o', tmp, '-V', CONFIG_DRIVE_LABEL, '-J', '-R', '-l', '-ldots', '-allow-lowercase', '-allow-multidot', '-quiet', staging],
      { signal, timeoutMs: 120_000 },
    );
    chmodSync(tmp, 0o600);
    renameSync(tmp, iso);
  } finally {
    rmSync(staging, { recursive: true, force: true });
    rmSync(tmp, { force: true });
  }
}
