// Starting and stopping an already prepared datastore, with the states a
// caller sees meanwhile (STARTING, STOPPING) and after (ACTIVE, SHUTDOWN,
// FAILED with the reason).
import type { LifecycleContext } from './context.js';

/** `note` says what came before the start (boot's rollback of a restore); it leads the reason either way. */
export async function startDatastore(ctx: LifecycleContext, note = ''): Promise<void> {
  ctx.state.update({ state: 'STARTING', reason: note, wantRunning: true });
  try {
    await ctx.supervisor.start();
    await ctx.manager.connect();
    ctx.state.update({ state: 'ACTIVE', reason: note, pendingRestart: [] });
  } catch (err) {
    const failed = `start failed: ${(err as Error).message}`;
    ctx.state.update({ state: 'FAILED', reason: note ? `${note}; ${failed}` : failed });
    throw err;
  }
}

/** Stops the datastore; `wantRunning` says whether the next agent start brings it back. */
export async function stopDatastore(ctx: LifecycleContext, wantRunning: boolean): Promise<void> {
  ctx.state.update({ state: 'STOPPING', reason: '' });
  await ctx.manager.disconnect();
  await ctx.supervisor.stop();
  ctx.state.update({ state: 'SHUTDOWN', wantRunning });
}

/** Stops whatever a failed operation started, ignoring errors: the failure is the reason. */
export async function stopQuietly(ctx: LifecycleContext): Promise<void> {
  await ctx.manager.disconnect().catch(() => undefined);
  await ctx.supervisor.stop().catch(() => undefined);
}
