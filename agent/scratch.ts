// What an operation leaves only while it runs: the MySQL-family tools'
// client option files (<base>/agent/client-*.cnf, holding the admin
// password) and the backup/restore work dirs (<base>/work). Each operation
// removes its own; an agent that was killed mid-operation cannot, so the
// next agent clears them at boot, before it serves any call that could
// create new ones.
import { chmodSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../lib/logger.js';
import type { Layout } from './layout.js';

const CLIENT_OPTION_FILE = /^client-[0-9a-f-]+\.cnf$/;

export const workRoot = (layout: Layout): string => path.join(layout.baseDir, 'work');

/**
 * The work root, made if missing, for a datastore's own user to pass
 * through to a staging dir of its own below it (0711: it can reach what it
 * is given, and list nothing). Returns its path.
 */
export function passableWorkRoot(layout: Layout): string {
  const dir = workRoot(layout);
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  chmodSync(dir, 0o711);
  return dir;
}

/** Removes leftover scratch; returns the paths it removed. Never throws: a leftover is logged, not fatal. */
export function clearScratch(layout: Layout, log: Logger): string[] {
  const removed: string[] = [];
  const remove = (p: string): void => {
    try {
      rmSync(p, { recursive: true, force: true });
      removed.push(p);
    } catch (err) {
      log.warn({ err, path: p }, 'could not remove a file an earlier operation left');
    }
  };
  let names: string[] = [];
  try {
    names = readdirSync(layout.agentDir);
  } catch {
    // no agent dir yet: nothing was ever written
  }
  for (const name of names) if (CLIENT_OPTION_FILE.test(name)) remove(path.join(layout.agentDir, name));
  try {
    for (const name of readdirSync(workRoot(layout))) remove(path.join(workRoot(layout), name));
  } catch {
    // no work dir
  }
  if (removed.length) log.info({ removed }, 'removed files an interrupted operation left');
  return removed;
}
