// The base image instances' overlays stand on, kept under the control's
// data dir: a qcow2 overlay records its base by path, so the operator's
// file (--image) must not change under running instances. The image is
// hard-linked (or copied, across filesystems) to a name made from the
// source's identity (device, inode, size, mtime); an image rebuilt under the
// same name (the builder renames a new file into place) gets a new cached
// copy, and existing overlays keep theirs.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, linkSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { ProcessRunner } from '../../lib/process-runner.js';

export class BaseImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BaseImageError';
  }
}

/** Checks that `image` is a qcow2 file qemu-img can read; the message names what is wrong. */
export async function checkImage(runner: ProcessRunner, image: string): Promise<void> {
  let st;
  try {
    st = statSync(image);
  } catch (err) {
    throw new BaseImageError(`--image ${image} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); build one with make image`);
  }
  if (!st.isFile()) throw new BaseImageError(`--image ${image} is not a file`);
  const { stdout } = await runner.run(['qemu-img', 'info', '--output=json', '-U', image], { timeoutMs: 60_000 });
  const info = JSON.parse(stdout) as { format?: string; 'backing-filename'?: string };
  if (info.format !== 'qcow2') throw new BaseImageError(`--image ${image} is ${info.format ?? 'of no known format'}, not qcow2`);
  if (info['backing-filename']) throw new BaseImageError(`--image ${image} is itself an overlay on ${info['backing-filename']}: give a standalone image`);
}

/** The cached base image for `image`, placed under `cacheDir` if it is not there yet. */
export function cachedBase(image: string, cacheDir: string): string {
  const st = statSync(image);
  const key = createHash('sha256').update(`${path.resolve(image)}\0${st.dev}\0${st.ino}\0${st.size}\0${st.mtimeMs}`).digest('hex').slice(0, 16);
  const to = path.join(cacheDir, `base-${key}.qcow2`);
  if (existsSync(to)) return to;
  mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
  const tmp = `${to}.tmp`;
  rmSync(tmp, { force: true });
  try {
    linkSync(image, tmp);
  } catch {
    copyFileSync(image, tmp);
  }
  renameSync(tmp, to);
  return to;
}
