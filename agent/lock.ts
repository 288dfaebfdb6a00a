// One lifecycle operation at a time: Prepare (its restore included), Start,
// Stop, Restart and a restore change what the datastore is, so a second one
// arriving meanwhile is refused (BUSY) instead of interleaving with it.
import { AgentError } from './errors.js';

export class OperationLock {
  private holder: string | null = null;

  /** What holds the lock now, or null. */
  get current(): string | null {
    return this.holder;
  }

  async run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.holder) throw new AgentError('AGENT_ERR_BUSY', `cannot ${what}: ${this.holder} is running`);
    this.holder = what;
    try {
      return await fn();
    } finally {
      this.holder = null;
    }
  }
}
