// Writes the config drive's files into the guest, all or nothing: every
// file goes to a temporary name beside its target first, and only when all
// of them are written are they renamed into place. Files are root-owned
// 0600, the directories under /etc/coffer root-owned 0700, and none of
// those directories may be a symbolic link (a write would land elsewhere).
import { closeSync, fchownSync, fsyncSync, lstatSync, mkdirSync, chmodSync, chownSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { ConfigDriveError, GUEST_CONFIG_ROOT, type DriveFile } from './meta-data.js';

const TMP_SUFFIX = '.config-drive-tmp';

export interface InstallOptions {
  /** The guest's root: "/" in a VM, a scratch directory in tests. */
  readonly root: string;
}

/** A directory under the config root, made (or kept) root-owned 0700; a symlink or a file there is refused. */
function ensurePrivateDir(dir: string, asRoot: boolean): void {
  let st;
  try {
    st = lstatSync(dir);
  } catch {
    mkdirSync(dir, { mode: 0o700 });
    st = lstatSync(dir);
  }
  if (!st.isDirectory()) throw new ConfigDriveError(`${dir} exists and is not a directory (a symbolic link or a file): refusing to write under it`);
  chmodSync(dir, 0o700);
  if (asRoot) chownSync(dir, 0, 0);
}

/** Every directory from the config root down to `file`'s parent, in order. */
function dirsFor(root: string, guestPath: string): string[] {
  const rel = path.posix.relative(GUEST_CONFIG_ROOT, path.posix.dirname(guestPath));
  const dirs = [path.join(root, GUEST_CONFIG_ROOT)];
  for (const part of rel === '' ? [] : rel.split('/')) dirs.push(path.join(dirs[dirs.length - 1]!, part));
  return dirs;
}

/** Installs `files`; returns the paths written. On any failure nothing has replaced anything. */
export function installFiles(files: readonly DriveFile[], opts: InstallOptions): string[] {
  const asRoot = process.getuid?.() === 0;
  const parent = path.join(opts.root, path.posix.dirname(GUEST_CONFIG_ROOT));
  mkdirSync(parent, { recursive: true, mode: 0o755 });
  const temps: { tmp: string; target: string }[] = [];
  try {
    for (const f of files) {
      for (const dir of dirsFor(opts.root, f.path)) ensurePrivateDir(dir, asRoot);
      const target = path.join(opts.root, f.path);
      const tmp = `${target}${TMP_SUFFIX}`;
      rmSync(tmp, { force: true });
      const fd = openSync(tmp, 'wx', 0o600);
      temps.push({ tmp, target });
      try {
        if (asRoot) fchownSync(fd, 0, 0);
        let off = 0;
        while (off < f.content.length) off += writeSync(fd, f.content, off);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      chmodSync(tmp, 0o600);
    }
  } catch (err) {
    for (const { tmp } of temps) rmSync(tmp, { force: true });
    if (err instanceof ConfigDriveError) throw err;
    throw new ConfigDriveError(`writing the config drive's files failed, nothing was installed: ${(err as Error).message}`);
  }
  for (const { tmp, target } of temps) renameSync(tmp, target);
  return temps.map((t) => t.target);
}
