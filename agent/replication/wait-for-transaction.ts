// WaitForTransaction: polls the datastore's applied position until it
// includes the target (compared by the capability, as the datastore orders
// its ids, never as strings) or the time is up. A timeout of 0 answers at
// once: the control uses that to compare replicas' positions.
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentError, invalid } from '../errors.js';
import type { ReplicationCapability } from '../managers/manager.js';

/** A wait longer than this is surely a mistake in the request. */
export const MAX_WAIT_SECONDS = 3600;

export interface WaitResult {
  readonly reached: boolean;
  /** The applied position when the wait ended. */
  readonly transactionId: string;
}

export async function waitForTransaction(
  cap: ReplicationCapability,
  target: string,
  timeoutSeconds: number,
  signal: AbortSignal,
  pollMs = 100,
): Promise<WaitResult> {
  if (!target) throw invalid('transaction_id is required');
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 0 || timeoutSeconds > MAX_WAIT_SECONDS) {
    throw invalid(`timeout_seconds must be a whole number from 0 to ${MAX_WAIT_SECONDS}, got ${timeoutSeconds}`);
  }
  const deadline = Date.now() + timeoutSeconds * 1000;
  for (;;) {
    const current = await cap.latestTransactionId();
    // Throws INVALID_ARGUMENT for a malformed target, before any wait.
    if (cap.reached(target, current)) return { reached: true, transactionId: current };
    if (Date.now() >= deadline) return { reached: false, transactionId: current };
    if (signal.aborted) throw new AgentError('AGENT_ERR_CANCELLED', 'the wait was cancelled: the client went away');
    await sleep(Math.min(pollMs, Math.max(1, deadline - Date.now())));
  }
}
