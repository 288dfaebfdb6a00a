// Recovery from crashes: the datastore's (the supervisor restarts it; the
// state says CRASHED until it answers again) and the agent's own (at the next
// agent start, what the previous one left is cleared and the datastore is
// brought back if it should run).
import { existsSync } from 'node:fs';
import type { SupervisorOptions } from '../supervisor.js';
import { Supervisor } from '../supervisor.js';
import { clearScratch, workRoot } from '../scratch.js';
import type { OperationLock } from '../lock.js';
import type { LifecycleContext } from './context.js';
import { startDatastore } from './start-stop.js';
import { settleInterruptedRestore, type InterruptedRestore } from './interrupted-restore.js';
import { setAsideDir } from './restore-swap.js';
import { stopOrphanTools } from './orphan-tools.js';

/** How long a reconnect that failed after a crash waits before the next try (the last repeats). */
const RECONNECT_DELAYS_MS = [1000, 2000, 5000, 10_000, 30_000];

/** The supervisor's callbacks; `ctx` is read when they fire (the supervisor is part of it). */
export function crashCallbacks(ctx: () => LifecycleContext, delaysMs: readonly number[] = RECONNECT_DELAYS_MS): Pick<SupervisorOptions, 'onCrash' | 'onRecovered'> {
  // Each recovery starts its own reconnect; a newer crash ends the older one's.
  let generation = 0;
  const reconnect = async (gen: number, attempt: number): Promise<void> => {
    const { log, manager, state, supervisor } = ctx();
    if (gen !== generation || state.get().state !== 'CRASHED' || !supervisor.running) return;
    try {
      await manager.disconnect().catch(() => undefined);
      await manager.connect();
      // The SQL clients connect lazily: one query proves the agent is let in.
      await manager.connections?.();
    } catch (err) {
      if (gen !== generation) return;
      const delay = delaysMs[Math.min(attempt, delaysMs.length - 1)]!;
      const reason = `the datastore runs again after a crash, but the agent cannot use its own connection to it: ${(err as Error).message}; trying again in ${Math.round(delay / 1000)} s`;
      log.warn({ err: (err as Error).message, attempt: attempt + 1 }, 'reconnecting after a crash failed');
      if (state.get().state === 'CRASHED') state.update({ state: 'CRASHED', reason });
      setTimeout(() => void reconnect(gen, attempt + 1), delay).unref();
      return;
    }
    // ACTIVE only once the agent's own connection is new and works: a call
    // that trusts ACTIVE must not meet the dead connection of the old process.
    if (gen !== generation || state.get().state !== 'CRASHED') return;
    log.info({ attempts: attempt + 1 }, 'datastore recovered after a crash');
    const pending = state.get().pendingRestart;
    // The restart applied any pending configuration.
    state.update({ state: 'ACTIVE', reason: `recovered after a crash (restart ${supervisor.restartCount})`, pendingRestart: pending.length ? [] : pending });
  };
  return {
    onCrash: (reason) => {
      generation += 1;
      ctx().log.error({ reason }, 'datastore crashed; restarting');
      ctx().state.update({ state: 'CRASHED', reason });
    },
    onRecovered: () => {
      generation += 1;
      void reconnect(generation, 0);
    },
  };
}

/**
 * At agent start: clear what an earlier run left, and bring the datastore
 * back if it should run. `beforeStart` runs once any orphan is gone and
 * before the datastore starts (a source's fence: it must refuse writes from
 * its first moment); if it fails the datastore is not started. `afterStart`
 * runs once the datastore answers (the fence again: a confirmation that
 * came while it was starting found no server to tell).
 */
export async function recoverAtBoot(
  ctx: LifecycleContext,
  lock: OperationLock,
  beforeStart: () => Promise<void> = async () => undefined,
  afterStart: () => Promise<void> = async () => undefined,
  /** A reason not to start the datastore now (a cluster in a full outage), or ''. */
  holdAtBoot: () => Promise<string> = async () => '',
): Promise<void> {
  const { log, state, layout } = ctx;
  // Synchronously, before any call is served: nothing is running yet.
  clearScratch(layout, log);
  const s = state.get();
  // Prepare, or a restore into a prepared instance, did not end.
  const interrupted = s.state === 'BUILDING' || existsSync(setAsideDir(layout));
  if (!interrupted && !(s.prepared && s.wantRunning)) {
    await Supervisor.reapOrphan(layout.pidFile, log);
    if (s.prepared) await beforeStart().catch((err: Error) => log.error({ err }, 'preparing the datastore\'s next start failed'));
    return;
  }
  // Until the datastore answers again, nobody may read the state the
  // previous agent left (ACTIVE) as the truth.
  if (s.prepared && s.wantRunning) state.update({ state: 'STARTING', reason: 'the agent is starting the datastore' });
  // Taken before the first await, so no call can change the data directory
  // while boot puts it back.
  await lock.run('recovery at boot', async () => {
    await Supervisor.reapOrphan(layout.pidFile, log);
    let settled: InterruptedRestore = 'none';
    if (interrupted) {
      try {
        await stopOrphanTools([layout.dataDir, setAsideDir(layout), workRoot(layout)], log);
        settled = settleInterruptedRestore(layout, s.prepared, log);
      } catch (err) {
        log.error({ err }, 'putting back what an interrupted operation left failed');
        state.update({
          state: 'FAILED',
          reason: `the agent stopped during ${s.prepared ? 'a restore' : 'Prepare'}, and boot could not settle what it left (any data set aside is kept in ${setAsideDir(layout)}): ${(err as Error).message}`,
        });
        return;
      }
    }
    if (!s.prepared) {
      state.update({ state: 'FAILED', reason: 'the agent stopped while Prepare was running; run Prepare again' });
      return;
    }
    // A prepared instance is BUILDING only while a restore runs.
    const note = !interrupted
      ? ''
      : settled === 'rolled-back'
        ? 'the agent stopped during a restore; the restore was rolled back and the previous data kept'
        : 'the agent stopped during a restore, before it set the data aside or after it had finished; the data directory is kept as it was';
    if (s.wantRunning) {
      // A cluster member none of whose peers answers is in a full outage:
      // it could only wait for a primary component that never comes, so it
      // stays down until the control recovers the cluster (RecoverCluster).
      const hold = await holdAtBoot().catch((err: Error) => `the cluster check failed: ${err.message}`);
      if (hold) {
        log.warn({ reason: hold }, 'the datastore is not started at boot');
        state.update({ state: 'SHUTDOWN', reason: hold });
        return;
      }
      try {
        await beforeStart();
      } catch (err) {
        log.error({ err }, 'the datastore is not started: readying it to refuse writes failed');
        state.update({ state: 'FAILED', reason: `${note ? `${note}; ` : ''}not started: making it refuse writes until the control confirms this source failed: ${(err as Error).message}` });
        return;
      }
      try {
        await startDatastore(ctx, note);
      } catch (err) {
        log.error({ err }, 'datastore did not start at boot');
        return;
      }
      await afterStart().catch((err: Error) => log.error({ err }, 'telling the started datastore its read-only state failed'));
    } else if (interrupted) {
      // A restore into a stopped instance: stopped it stays.
      state.update({ state: 'SHUTDOWN', reason: note });
    }
  });
}
