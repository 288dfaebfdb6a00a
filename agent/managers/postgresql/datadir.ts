// The directories the server uses, and initdb. Shared by Prepare (a fresh
// instance) and restore (which builds a new data directory beside the old).
import { chmodSync, chownSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { ProcessRunner } from '../../../lib/process-runner.js';
import type { OsUser } from '../../../lib/os-user.js';
import type { Layout } from '../../layout.js';
import { ADMIN_ROLE } from './constants.js';
import { pgTool } from './pg-bin.js';

/** Creates the base layout with owners and modes the server accepts. */
export function ensureDirs(layout: Layout, pgUser: OsUser): void {
  // The base dir must be traversable by the datastore's user.
  mkdirSync(layout.baseDir, { recursive: true });
  chmodSync(layout.baseDir, 0o755);
  mkdirSync(layout.agentDir, { recursive: true, mode: 0o700 });
  chmodSync(layout.agentDir, 0o700);
  mkdirSync(layout.etcDir, { recursive: true, mode: 0o755 });
  // postgres refuses a data directory with group or other access.
  for (const [dir, mode] of [[layout.dataDir, 0o700], [layout.runDir, 0o755], [layout.logDir, 0o750]] as const) {
    makeOwnedDir(dir, mode, pgUser);
  }
}

export function makeOwnedDir(dir: string, mode: number, owner: OsUser): void {
  mkdirSync(dir, { recursive: true, mode });
  chownSync(dir, owner.uid, owner.gid);
  chmodSync(dir, mode);
}

export function emptyDir(dir: string): void {
  for (const entry of readdirSync(dir)) rmSync(path.join(dir, entry), { recursive: true, force: true });
}

/**
 * initdb as the postgres OS user. The bootstrap superuser is the agent's
 * role (no "postgres" role exists); no password is set (the agent uses
 * peer authentication, conf.ts). The pg_hba.conf initdb writes into the
 * data directory is never read (hba_file points to the agent's), and is
 * made to reject everything in case someone starts the server by hand.
 */
export async function initdb(runner: ProcessRunner, version: string, dataDir: string, pgUser: OsUser, signal: AbortSignal): Promise<void> {
  await runner.run(
    [
      pgTool(version, 'initdb'),
      `--pgdata=${dataDir}`,
      `--username=${ADMIN_ROLE}`,
      '--auth=reject',
      '--encoding=UTF8',
      '--locale=C.UTF-8',
      // Page checksums: silent corruption on disk becomes an error on read.
      '--data-checksums',
      '--no-instructions',
    ],
    { uid: pgUser.uid, gid: pgUser.gid, cwd: path.dirname(dataDir), env: { LC_ALL: 'C.UTF-8' }, signal, timeoutMs: 300_000 },
  );
}
