// The installation's root (the folder with package.json), found from this
// file, so data files (proto/, rules) resolve the same from sources (tests)
// and from dist/ (the launchers).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | null = null;

export function repoRoot(): string {
  if (cached) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the Coffer installation root (package.json)');
    dir = up;
  }
  cached = dir;
  return dir;
}
