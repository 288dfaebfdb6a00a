// Waiting for a started (or rebooted) instance's agent to answer: what the
// create workflow does after the driver starts it, and the restart workflow
// after the driver reboots a VM.
import { agentCall } from '../agent-client.js';
import type { Allocation } from '../compute/driver.js';
import { withAgent, type ControlContext } from '../context.js';
import type { InstanceRow } from '../store/instances.js';
import { isRetryable } from '../../lib/retryable.js';
import { PermanentStepError } from '../tasks/workflow.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Resolves once the agent answers Ping (its certificate is checked on the
 * way). Asked every 100 ms (a refused connection costs next to nothing),
 * every second after 30 s (a VM boots), for the driver's boot timeout (30 s
 * for a local agent). A process the driver no longer sees running is given
 * up on after 5 s, and so is a VM whose console says its agent will not
 * start. The error carries the console's last lines when the driver keeps
 * a console.
 */
export async function waitForAgentBoot(c: ControlContext, row: InstanceRow, allocation: Allocation, signal: AbortSignal): Promise<void> {
  const timeoutMs = c.driver.bootTimeoutMs ?? 30_000;
  let last: unknown;
  let why = '';
  let permanent = false;
  const started = Date.now();
  while (!signal.aborted && Date.now() - started < timeoutMs) {
    try {
      await withAgent(c, row, (a) => agentCall(a.lifecycle, 'ping', {}, 2000));
      return;
    } catch (err) {
      last = err;
      if (!isRetryable(err)) break;
      if ((await c.driver.status(row.id, allocation)) !== 'running' && Date.now() - started > 5_000) {
        why = ' (the instance is not running)';
        break;
      }
      const gaveUp = c.driver.bootFailure?.(row.id);
      if (gaveUp) {
        // A console that says the agent gave up says the same next time.
        why = ` (the console says: ${gaveUp})`;
        permanent = true;
        break;
      }
      await sleep(Date.now() - started < 30_000 ? 100 : 1000);
    }
  }
  if (!why && Date.now() - started >= timeoutMs) why = ` in ${Math.round(timeoutMs / 1000)} s`;
  const tail = c.driver.consoleTail?.(row.id);
  const message = `the agent did not answer${why}: ${(last as Error)?.message ?? 'unknown'}${tail ? `\nconsole:\n${tail}` : ''}`;
  if (permanent) throw new PermanentStepError(message);
  throw new Error(message, { cause: last });
}
