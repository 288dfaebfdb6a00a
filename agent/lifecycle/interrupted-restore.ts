// What a restore leaves when the agent is killed in the middle of it: the
// data directory set aside (restore-swap.ts) beside a half-filled new one.
// The set-aside copy exists only until a restore has ended, so finding it at
// boot means the restore did not complete. On a prepared instance it is the
// instance's own data and goes back in place; on an instance that was never
// prepared (Prepare from a backup) it holds only the fresh datastore Prepare
// made, and Prepare starts again from scratch anyway.
import { existsSync, renameSync, rmSync } from 'node:fs';
import type { Logger } from '../../lib/logger.js';
import type { Layout } from '../layout.js';
import { discardedDir, setAsideDir } from './restore-swap.js';

/** What boot found: no interrupted restore, its previous data put back, or an unprepared one's leftover removed. */
export type InterruptedRestore = 'none' | 'rolled-back' | 'removed';

/**
 * Settles an interrupted restore; the datastore must not run (boot calls it
 * after reaping an orphan). Safe to repeat: killed halfway, the set-aside
 * copy is still there for the next boot. Throws if the data cannot be put
 * back, leaving the set-aside copy where it is.
 */
export function settleInterruptedRestore(layout: Layout, prepared: boolean, log: Logger): InterruptedRestore {
  // A succeeded restore's old data, renamed before removal: never a copy to keep.
  rmSync(discardedDir(layout), { recursive: true, force: true });
  const aside = setAsideDir(layout);
  if (!existsSync(aside)) return 'none';
  if (!prepared) {
    log.warn({ path: aside }, 'removing what a Prepare from a backup set aside before the agent stopped');
    rmSync(aside, { recursive: true, force: true });
    return 'removed';
  }
  log.warn({ dataDir: layout.dataDir }, 'a restore did not complete before the agent stopped; putting the previous data back');
  // The half-filled directory goes first; the set-aside copy is touched only by the rename.
  rmSync(layout.dataDir, { recursive: true, force: true });
  renameSync(aside, layout.dataDir);
  return 'rolled-back';
}
