// Finds a program on PATH (and the sbin directories root may lack in PATH).
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

const EXTRA = ['/usr/sbin', '/usr/local/sbin', '/sbin'];

export function which(...candidates: string[]): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...EXTRA];
  for (const name of candidates) {
    for (const dir of dirs) {
      const p = path.join(dir, name);
      try {
        accessSync(p, constants.X_OK);
        return p;
      } catch {
        // keep looking
      }
    }
  }
  return null;
}

export function requireProgram(what: string, ...candidates: string[]): string {
  const p = which(...candidates);
  if (!p) throw new Error(`${what} not found (looked for ${candidates.join(', ')}); run make up to install the datastore packages`);
  return p;
}
