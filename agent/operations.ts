// Operations running now (Prepare, backups, ...): listed by GetStatus and
// cancellable by id. Each has an AbortController; cancelling aborts it.
import { randomUUID } from 'node:crypto';
import { collectWhenIdle } from '../lib/idle-gc.js';

export interface RunningOperation {
  readonly id: string;
  readonly kind: string;
  phase: string;
  readonly startedAtMs: number;
  readonly controller: AbortController;
}

export class Operations {
  private readonly running = new Map<string, RunningOperation>();

  begin(kind: string): RunningOperation {
    const op: RunningOperation = {
      id: randomUUID(),
      kind,
      phase: 'starting',
      startedAtMs: Date.now(),
      controller: new AbortController(),
    };
    this.running.set(op.id, op);
    return op;
  }

  end(op: RunningOperation): void {
    this.running.delete(op.id);
    // What the operation allocated is garbage now; free it while idle.
    if (this.running.size === 0) collectWhenIdle();
  }

  list(): RunningOperation[] {
    return [...this.running.values()];
  }

  cancel(id: string, reason: string): boolean {
    const op = this.running.get(id);
    if (!op) return false;
    op.controller.abort(new Error(reason));
    return true;
  }

  cancelAll(reason: string): void {
    for (const op of this.running.values()) op.controller.abort(new Error(reason));
  }
}
