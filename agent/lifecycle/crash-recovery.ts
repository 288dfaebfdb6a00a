// Recovery from crashes: the datastore's (the supervisor restarts it; the
// state says CRASHED until it answers again) and the agent's own (at the next
// agent start, what the previous one left is cleared and the datastore is
// brought back if it should run).
import type { SupervisorOptions } from '../supervisor.js';
import { Supervisor } from '../supervisor.js';
import { clearScratch } from '../scratch.js';
import type { OperationLock } from '../lock.js';
import type { LifecycleContext } from './context.js';
import { startDatastore } from './start-stop.js';
import { settleInterruptedRestore, type InterruptedRestore } from './interrupted-restore.js';
import { setAsideDir } from './restore-swap.js';

/** The supervisor's callbacks; `ctx` is read when they fire (the supervisor is part of it). */
export function crashCallbacks(ctx: () => LifecycleContext): Pick<SupervisorOptions, 'onCrash' | 'onRecovered'> {
  return {
    onCrash: (reason) => {
      ctx().log.error({ reason }, 'datastore crashed; restarting');
      ctx().state.update({ state: 'CRASHED', reason });
    },
    onRecovered: () => {
      const { log, manager, state, supervisor } = ctx();
      log.info('datastore recovered after a crash');
      // ACTIVE only once the agent's own connection is new: a call that
      // trusts ACTIVE must not meet the dead connection of the old process.
      void manager
        .disconnect()
        .catch(() => undefined)
        .then(() => manager.connect())
        .catch((err: Error) => log.warn({ err: err.message }, 'reconnecting after a crash failed'))
        .then(() => {
          if (state.get().state !== 'CRASHED') return;
          const pending = state.get().pendingRestart;
          // The restart applied any pending configuration.
          state.update({ state: 'ACTIVE', reason: `recovered after a crash (restart ${supervisor.restartCount})`, pendingRestart: pending.length ? [] : pending });
        });
    },
  };
}

/** At agent start: clear what an earlier run left, and bring the datastore back if it should run. */
export async function recoverAtBoot(ctx: LifecycleContext, lock: OperationLock): Promise<void> {
  const { log, state, layout } = ctx;
  // Synchronously, before any call is served: nothing is running yet.
  clearScratch(layout, log);
  const s = state.get();
  // Until the datastore answers again, nobody may read the state the
  // previous agent left (ACTIVE) as the truth.
  if (s.prepared && s.wantRunning) state.update({ state: 'STARTING', reason: 'the agent is starting the datastore' });
  await Supervisor.reapOrphan(layout.pidFile, log);
  let settled: InterruptedRestore;
  try {
    settled = settleInterruptedRestore(layout, s.prepared, log);
  } catch (err) {
    log.error({ err }, 'putting back the data an interrupted restore set aside failed');
    state.update({
      state: 'FAILED',
      reason: `the agent stopped during a restore, and putting the previous data back failed (it is kept in ${setAsideDir(layout)}): ${(err as Error).message}`,
    });
    return;
  }
  if (!s.prepared && s.state === 'BUILDING') {
    state.update({ state: 'FAILED', reason: 'the agent stopped while Prepare was running; run Prepare again' });
    return;
  }
  // A prepared instance is BUILDING only while a restore runs.
  const interrupted = settled === 'rolled-back' || (s.prepared && s.state === 'BUILDING');
  const note = !interrupted
    ? ''
    : settled === 'rolled-back'
      ? 'the agent stopped during a restore; the restore was rolled back and the previous data kept'
      : 'the agent stopped during a restore, before it set the data aside or after it had finished; the data directory is kept as it was';
  if (s.prepared && s.wantRunning) {
    try {
      await lock.run('start', () => startDatastore(ctx, note));
    } catch (err) {
      log.error({ err }, 'datastore did not start at boot');
    }
  } else if (interrupted) {
    // A restore into a stopped instance: stopped it stays.
    state.update({ state: 'SHUTDOWN', reason: note });
  }
}
