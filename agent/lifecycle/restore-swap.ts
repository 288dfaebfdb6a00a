// Restores data into the datastore. A physical restore runs with the
// datastore stopped: the current data directory is moved aside (not
// deleted) and put back if the restore fails, so a bad backup never costs
// the data that was there. After it, the agent's own account is re-keyed:
// the restored grant tables are another instance's. A logical restore
// replays into the running datastore. An agent killed in between leaves the
// set-aside directory for the next one to put back (interrupted-restore.ts).
import { existsSync } from 'node:fs';
import { rename, mkdir, rm, stat, chown } from 'node:fs/promises';
import { AgentError } from '../errors.js';
import type { Layout } from '../layout.js';
import type { LifecycleContext } from './context.js';
import { startDatastore, stopQuietly } from './start-stop.js';

/** Where the data directory waits while a restore fills a new one: it exists only while a restore has not ended. */
export const setAsideDir = (layout: Layout): string => `${layout.dataDir}.pre-restore`;

/**
 * The set-aside data once the restore succeeded, renamed before it is
 * removed: a copy half removed by a killed agent is never taken for a whole
 * one to put back.
 */
export const discardedDir = (layout: Layout): string => `${layout.dataDir}.pre-restore.discarded`;

/** A verified backup chain, ready to be written into the datastore. */
export interface RestorePlan {
  /** Replayed into the running datastore (a logical dump) rather than into a stopped one's data directory. */
  readonly logical: boolean;
  /**
   * Writes the data; resolves the raw bytes restored. A physical plan reads
   * each backup once and resolves only once every check passed
   * (backup/restore.ts): nothing below starts the datastore before that.
   */
  fill(signal: AbortSignal): Promise<number>;
}

/**
 * A replay to a point after the data is in place (agent/archive/
 * point-restore.ts): configured before the datastore first starts, waited
 * for once it has. `failure` names the reason to report when the restore
 * failed because of the replay (an archived file's integrity), whatever
 * the datastore made of it.
 */
export interface ReplayHooks {
  before(): Promise<void>;
  after(signal: AbortSignal): Promise<void>;
  failure(): Error | undefined;
}

/**
 * Runs the plan without touching the lifecycle state: the caller (Prepare,
 * or the Restore call) says what the instance is before and after. On
 * failure the previous data is back in place and the datastore is stopped.
 * `beforeStart` runs once the data is in place, before the datastore starts
 * on it (physical restores only).
 */
export async function restoreInto(ctx: LifecycleContext, plan: RestorePlan, signal: AbortSignal, beforeStart?: () => Promise<void>, replay?: ReplayHooks): Promise<number> {
  if (plan.logical) return plan.fill(signal);
  const { manager, layout, log, supervisor } = ctx;
  const aside = setAsideDir(layout);
  // Only a failed boot-time rollback leaves one now, and then it may be the
  // instance's only copy of its data.
  if (existsSync(aside)) throw new AgentError('AGENT_ERR_NOT_READY', `${aside} holds data an interrupted restore set aside; it must be put back or removed first`);
  await manager.disconnect();
  await supervisor.stop();
  const owner = await stat(layout.dataDir);
  await rename(layout.dataDir, aside);
  await mkdir(layout.dataDir, { mode: owner.mode & 0o777 });
  await chown(layout.dataDir, owner.uid, owner.gid);
  let bytes: number;
  try {
    bytes = await plan.fill(signal);
    // Prepare of a replica: configured to follow its source before it first runs.
    await beforeStart?.();
    await replay?.before();
    await supervisor.start(signal);
    await replay?.after(signal);
    await manager.secure(signal, false);
    await manager.connect();
  } catch (caught) {
    const err = replay?.failure() ?? caught;
    log.error({ err }, 'restore failed; putting the previous data back');
    await stopQuietly(ctx);
    await rm(layout.dataDir, { recursive: true, force: true });
    await rename(aside, layout.dataDir);
    throw err;
  }
  await rm(discardedDir(layout), { recursive: true, force: true });
  await rename(aside, discardedDir(layout));
  await rm(discardedDir(layout), { recursive: true, force: true });
  return bytes;
}

/**
 * The Restore call on a prepared instance: BUILDING while a physical
 * restore runs, ACTIVE after it; on failure the previous data runs again
 * (if it ran before) and the reason says the restore failed.
 */
export async function restorePrepared(ctx: LifecycleContext, plan: RestorePlan, signal: AbortSignal): Promise<number> {
  if (plan.logical) return restoreInto(ctx, plan, signal);
  const before = ctx.state.get();
  ctx.state.update({ state: 'BUILDING', reason: 'restoring a backup' });
  try {
    const bytes = await restoreInto(ctx, plan, signal);
    ctx.state.update({ state: 'ACTIVE', reason: '', wantRunning: true, pendingRestart: [] });
    return bytes;
  } catch (err) {
    const reason = `restore failed, previous data kept: ${(err as Error).message}`;
    if (!before.wantRunning) {
      ctx.state.update({ state: 'SHUTDOWN', reason });
      throw err;
    }
    try {
      await startDatastore(ctx);
      ctx.state.update({ reason });
    } catch (e) {
      ctx.state.update({ state: 'FAILED', reason: `${reason}; and it did not start again: ${(e as Error).message}` });
    }
    throw err;
  }
}
