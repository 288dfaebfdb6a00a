// What is mounted where, read from /proc/self/mountinfo (proc(5)): the one
// source that names a mount's device by its major:minor numbers, so a
// device reached through a symlink (/dev/disk/by-id/...) is recognised.
import { readFileSync } from 'node:fs';

export interface MountEntry {
  /** "major:minor" of the mounted device. */
  readonly device: string;
  readonly mountPoint: string;
  readonly fsType: string;
}

/** Undoes mountinfo's octal escapes of space, tab, newline and backslash. */
const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));

export function parseMountInfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const f = line.split(' ');
    const dash = f.indexOf('-');
    if (dash < 6) continue;
    out.push({ device: f[2]!, mountPoint: unescape(f[4]!), fsType: f[dash + 1] ?? '' });
  }
  return out;
}

export function mounts(): MountEntry[] {
  return parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8'));
}

/** "major:minor" of a block device's rdev, as mountinfo writes it. */
export function deviceNumber(rdev: number): string {
  // Linux's encoding (glibc gnu_dev_major/minor), enough for the 32 bits Node's rdev holds.
  const major = ((rdev >> 8) & 0xfff) | Math.floor(rdev / 2 ** 32) & ~0xfff;
  const minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
  return `${major}:${minor}`;
}
