// Polls a condition of the cluster (gossip converging, a failover) until it
// holds, with an overall timeout and the caller's cancel.
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentError } from '../../../errors.js';
import { throwIfCancelled } from '../../../lifecycle/context.js';

const POLL_MS = 100;

/** Resolves once `check` returns '' (met); otherwise its text says what is still awaited, and ends in the timeout's message. */
export async function waitUntil(what: string, check: () => Promise<string>, timeoutMs: number, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    throwIfCancelled(signal, what);
    let left: string;
    try {
      left = await check();
    } catch (err) {
      left = (err as Error).message;
    }
    if (!left) return;
    if (Date.now() > deadline) throw new AgentError('AGENT_ERR_TIMEOUT', `${what}: not within ${timeoutMs} ms (${left})`);
    await sleep(POLL_MS);
  }
}
