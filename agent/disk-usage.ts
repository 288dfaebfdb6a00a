// Bytes under a directory (the datastore's data dir), for GetStatus.
import { readdir, lstat } from 'node:fs/promises';
import path from 'node:path';

export async function directorySize(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await directorySize(p);
    else {
      try {
        total += (await lstat(p)).size;
      } catch {
        // Removed meanwhile.
      }
    }
  }
  return total;
}
