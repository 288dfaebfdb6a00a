// The logs the agent writes itself (a datastore's output, its own guest.log
// when it has no --log-file) are kept to a size: past it, the file becomes
// <file>.1 (the one before is dropped) and a new file is started, the way
// logrotate would. Tails follow the rename (tail.ts); a publish sees the
// rotation (guest-logs.ts) and starts again.
import { renameSync, statSync } from 'node:fs';

export const MAX_LOG_BYTES = 64 * 1024 * 1024;

/** Renames `file` to `file.1` when it is larger than maxBytes; true when it did. */
export function rotateIfLarger(file: string, maxBytes = MAX_LOG_BYTES): boolean {
  try {
    if (statSync(file).size <= maxBytes) return false;
    renameSync(file, `${file}.1`);
    return true;
  } catch {
    return false;
  }
}
