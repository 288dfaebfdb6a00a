// What a workflow is: named, idempotent steps run in order, with a deadline
// and what to record when the task fails. Each step may be run again after a
// control restart (it was running when the control died), so a step checks
// what is already done before doing it.
import type { TaskRow } from '../store/tasks.js';

export interface StepProgress {
  phase: string;
  message: string;
  percent?: number;
  bytesDone?: number;
  bytesTotal?: number;
}

export interface StepContext<D> {
  readonly task: Readonly<TaskRow>;
  /** The task's data: the request, and what earlier steps recorded. Saved after each step. */
  readonly data: D;
  /** Aborted at the deadline and when the control stops. */
  readonly signal: AbortSignal;
  progress(p: StepProgress): void;
  /** Saves `data` now (before a long call, so a restart sees what was decided). */
  save(): void;
}

/** A step that does its work (agent calls, the driver) and may take long. */
export interface RunStep<D> {
  readonly name: string;
  run(ctx: StepContext<D>): Promise<void>;
}

/**
 * A step that is only bookkeeping in SQLite (the instance ACTIVE again):
 * committed in one transaction with the step's end and, when it is the last
 * step, with the task's SUCCEEDED. A kill -9 cannot fall between them, so a
 * record never says the work is over while its task still runs (and would
 * run the step again at the next start).
 */
export interface CommitStep<D> {
  readonly name: string;
  commit(ctx: StepContext<D>): void;
}

export type Step<D> = RunStep<D> | CommitStep<D>;

export interface Workflow<D> {
  readonly kind: string;
  readonly steps: readonly Step<D>[];
  /** How long the whole task may take, from its creation. */
  readonly deadlineMs: number;
  /** Synchronous bookkeeping once the task failed (instance to ERROR with a fault, ...). */
  onFailed(task: Readonly<TaskRow>, data: D, step: string, message: string): void;
  /** Removes secrets from the data before it is kept for good. */
  scrub?(data: D): D;
}

/**
 * A step error that retrying cannot fix (a missing record). An agent's
 * refusal needs no wrapping: its status says (lib/retryable.ts).
 */
export class PermanentStepError extends Error {
  readonly retryable = false;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentStepError';
  }
}
