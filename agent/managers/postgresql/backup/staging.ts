// A restore builds the new data directory beside the current one and swaps
// it in only once it is complete and verified: a backup that turns out to
// be corrupt, or a restore that fails or is cancelled, leaves the instance's
// data as it was. The staging dir is under the work root, on the base dir,
// which is the instance's volume (agent.ts measures it), so the swap is two
// renames on one filesystem; and what a killed agent left there is removed
// at the next boot (scratch.ts), while the data it set aside is put back
// (lifecycle/interrupted-restore.ts).
import { chmodSync, chownSync, existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { OsUser } from '../../../../lib/os-user.js';
import type { Layout } from '../../../layout.js';
import { AgentError } from '../../../errors.js';
import { passableWorkRoot, workRoot } from '../../../scratch.js';
import { makeOwnedDir } from '../datadir.js';

export const stagingDir = (layout: Layout): string => path.join(workRoot(layout), 'pg-restore');
const previousDir = (layout: Layout): string => path.join(workRoot(layout), 'pg-restore.previous');

/** Refuses to touch a data directory a postmaster still runs on. */
export function requireStopped(dataDir: string): void {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  try {
    if (Number.isInteger(pid) && pid > 1) {
      process.kill(pid, 0);
      throw new AgentError('AGENT_ERR_NOT_READY', `the datastore is running (pid ${pid}); stop it before a restore`);
    }
  } catch (err) {
    if (err instanceof AgentError) throw err;
    // ESRCH: a stale pid file from a crash; postgres itself ignores it too.
  }
}

/** A fresh, empty staging dir owned by the datastore's user. */
export function freshStaging(layout: Layout, pgUser: OsUser): string {
  passableWorkRoot(layout);
  const dir = stagingDir(layout);
  rmSync(dir, { recursive: true, force: true });
  makeOwnedDir(dir, 0o700, pgUser);
  return dir;
}

export function dropStaging(layout: Layout): void {
  rmSync(stagingDir(layout), { recursive: true, force: true });
}

/** Puts the staged directory (a restore's, or `staged` on the same filesystem) in place of the data directory. */
export function swapIn(layout: Layout, pgUser: OsUser, staged: string = stagingDir(layout)): void {
  const previous = previousDir(layout);
  rmSync(previous, { recursive: true, force: true });
  if (existsSync(layout.dataDir)) renameSync(layout.dataDir, previous);
  try {
    renameSync(staged, layout.dataDir);
  } catch (err) {
    if (existsSync(previous)) renameSync(previous, layout.dataDir);
    throw err;
  }
  // postgres refuses a data directory with group or other access.
  chownSync(layout.dataDir, pgUser.uid, pgUser.gid);
  chmodSync(layout.dataDir, 0o700);
  rmSync(previous, { recursive: true, force: true });
}
