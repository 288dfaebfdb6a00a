// Starting and stopping an already prepared datastore, with the states a
// caller sees meanwhile (STARTING, STOPPING) and after (ACTIVE, SHUTDOWN,
// FAILED with the reason).
import type { LifecycleContext } from './context.js';

export async function startDatastore(ctx: LifecycleContext): Promise<void> {
  ctx.state.update({ state: 'STARTING', reason: '', wantRunning: true });
  try {
    await ctx.supervisor.start();
    await ctx.manager.connect();
    ctx.state.update({ state: 'ACTIVE', reason: '', pendingRestart: [] });
  } catch (err) {
    ctx.state.update({ state: 'FAILED', reason: `start failed: ${(err as Error).message}` });
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
