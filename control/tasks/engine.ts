// The durable task engine. A task is a row and its steps in SQLite; the
// engine runs the steps in order, recording each start and finish, so that
// after a kill -9 of the control the task resumes at the step that was
// running (steps are idempotent). A failing step is retried with backoff
// while its error is retryable (lib/retryable.ts, the one list) and until
// it runs out of attempts or the task's deadline passes; then the
// workflow's onFailed records the fault. Nothing stays in progress forever.
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../lib/logger.js';
import type { Db } from '../db/database.js';
import type { ControlEvents } from '../events.js';
import type { TaskRow, TaskStore } from '../store/tasks.js';
import { isRetryable } from '../../lib/retryable.js';
import { PermanentStepError, type StepContext, type StepProgress, type Workflow } from './workflow.js';
import type { TaskObserver } from './task-observer.js';

export interface EngineDeps {
  readonly db: Db;
  readonly tasks: TaskStore;
  readonly events: ControlEvents;
  readonly log: Logger;
  /** Attempts per step (over all control runs) before the task fails. */
  readonly maxAttempts?: number;
  /** Test seam: pause before each step (lets a test kill the control at a chosen step). */
  readonly stepDelayMs?: number;
  /** Told of every step attempt's and task's end (metrics); none when metrics are off. */
  readonly observer?: TaskObserver;
}

/**
 * - RUNNING: resuming and accepting tasks.
 * - STOPPING: stop() was called; running steps are being aborted.
 * - STOPPED: nothing runs.
 */
export type EngineState = 'RUNNING' | 'STOPPING' | 'STOPPED';

const BACKOFF_MS = [500, 1000, 2000, 5000, 10_000];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyWorkflow = Workflow<any>;

export class TaskEngine {
  private readonly workflows = new Map<string, AnyWorkflow>();
  private readonly active = new Map<string, { controller: AbortController; done: Promise<void> }>();
  private state: EngineState = 'RUNNING';

  constructor(private readonly deps: EngineDeps) {}

  register(w: AnyWorkflow): void {
    this.workflows.set(w.kind, w);
  }

  /**
   * Records a new task (with `alsoInTransaction`, e.g. the instance row, in
   * the same transaction: either both exist or neither) and starts it.
   */
  submit<D>(kind: string, project: string, resourceId: string, data: D, alsoInTransaction?: (taskId: string) => void): string {
    const w = this.workflow(kind);
    const id = randomUUID();
    const now = Date.now();
    this.deps.db.transaction(() => {
      this.deps.tasks.insert({ id, project, kind, resource_id: resourceId, data: JSON.stringify(data), deadline: now + w.deadlineMs }, w.steps.map((s) => s.name), now);
      alsoInTransaction?.(id);
    })();
    this.start(id);
    return id;
  }

  /** At control start: resume every task that was running. */
  resumeAll(): number {
    const running = this.deps.tasks.running();
    for (const t of running) {
      this.deps.log.info({ taskId: t.id, kind: t.kind, step: t.current_step }, 'resuming task');
      this.start(t.id);
    }
    return running.length;
  }

  /** Aborts running steps (they resume at the next start) and waits for them. */
  async stop(): Promise<void> {
    this.state = 'STOPPING';
    for (const a of this.active.values()) a.controller.abort(new Error('the control is stopping'));
    await Promise.allSettled([...this.active.values()].map((a) => a.done));
    this.state = 'STOPPED';
  }

  /** Resolves when the task is no longer being run here (tests, shutdown). */
  async settled(taskId: string): Promise<void> {
    await this.active.get(taskId)?.done;
  }

  private workflow(kind: string): AnyWorkflow {
    const w = this.workflows.get(kind);
    if (!w) throw new Error(`no workflow registered for task kind "${kind}"`);
    return w;
  }

  private start(id: string): void {
    if (this.active.has(id) || this.state !== 'RUNNING') return;
    const controller = new AbortController();
    const done = this.run(id, controller).catch((err) => this.deps.log.error({ err, taskId: id }, 'task engine failure'));
    this.active.set(id, { controller, done: done.finally(() => this.active.delete(id)) });
  }

  private async run(id: string, controller: AbortController): Promise<void> {
    const { tasks, events, log } = this.deps;
    const task = tasks.get(id);
    if (!task || task.state !== 'RUNNING') return;
    const w = this.workflow(task.kind);
    const data = JSON.parse(task.data) as object;
    const save = (): void => tasks.saveData(id, JSON.stringify(data));
    let currentStep = task.current_step || w.steps[0]!.name;
    let finished = false;
    const finish = (): void => {
      tasks.finish(id, 'SUCCEEDED', '', JSON.stringify(w.scrub ? w.scrub(data) : data));
      finished = true;
    };

    const msLeft = task.deadline - Date.now();
    const timer = setTimeout(() => controller.abort(new DeadlineError(w.deadlineMs)), Math.max(0, msLeft));
    try {
      const steps = tasks.steps(id);
      for (const row of steps) {
        if (row.state === 'done') continue;
        const step = w.steps[row.idx];
        if (!step) throw new PermanentStepError(`the task has a step "${row.name}" this version does not know`);
        currentStep = step.name;
        const ctx: StepContext<object> = {
          task,
          data,
          signal: controller.signal,
          save,
          progress: (p) => this.progress(id, step.name, p),
        };
        const last = row.idx === w.steps.length - 1;
        if ('commit' in step) {
          await this.runStep(id, task.kind, row.idx, step.name, row.attempts, async () => {
            this.deps.db.transaction(() => {
              step.commit(ctx);
              tasks.stepDone(id, row.idx, JSON.stringify(data));
              if (last) finish();
            })();
          }, controller.signal);
        } else {
          await this.runStep(id, task.kind, row.idx, step.name, row.attempts, () => step.run(ctx), controller.signal);
          tasks.stepDone(id, row.idx, JSON.stringify(data));
        }
        events.emit('task', id);
      }
      if (!finished) finish();
      this.deps.observer?.taskEnded(task.kind, 'succeeded', (Date.now() - task.created_at) / 1000);
      this.progress(id, currentStep, { phase: 'done', message: `${task.kind} finished`, percent: 100 });
      log.info({ taskId: id, kind: task.kind }, 'task succeeded');
    } catch (err) {
      const reason = controller.signal.reason;
      if (controller.signal.aborted && !(reason instanceof DeadlineError)) {
        // The control is stopping: the task stays RUNNING and resumes at the next start.
        log.info({ taskId: id, step: currentStep }, 'task paused for shutdown');
        return;
      }
      const message = reason instanceof DeadlineError
        ? `step ${currentStep} did not finish before the task deadline (${Math.round(w.deadlineMs / 1000)} s)${err instanceof Error && !(err instanceof DeadlineError) ? `: ${err.message}` : ''}`
        : `step ${currentStep} failed: ${err instanceof Error ? err.message : String(err)}`;
      log.warn({ taskId: id, kind: task.kind, step: currentStep, msg: message }, 'task failed');
      const kept = w.scrub ? w.scrub(data) : data;
      this.deps.db.transaction(() => {
        const idx = w.steps.findIndex((s) => s.name === currentStep);
        if (idx >= 0) tasks.stepError(id, idx, message, true);
        tasks.finish(id, 'FAILED', message, JSON.stringify(kept));
        w.onFailed(task, kept, reason instanceof DeadlineError ? `${currentStep} (deadline)` : currentStep, message);
      })();
      this.deps.observer?.taskEnded(task.kind, 'failed', (Date.now() - task.created_at) / 1000, currentStep);
      this.progress(id, currentStep, { phase: 'failed', message, percent: 100 });
    } finally {
      clearTimeout(timer);
      events.emit('task', id);
      events.emit('instance', task.resource_id);
    }
  }

  private async runStep(id: string, kind: string, idx: number, name: string, attemptsSoFar: number, fn: () => Promise<void>, signal: AbortSignal): Promise<void> {
    const { tasks, log, observer } = this.deps;
    const max = this.deps.maxAttempts ?? 5;
    for (let attempt = attemptsSoFar; ; attempt++) {
      if (signal.aborted) throw signal.reason;
      if (this.deps.stepDelayMs) await sleep(this.deps.stepDelayMs, signal);
      tasks.stepStarted(id, idx, name);
      this.progress(id, name, { phase: 'step', message: `step ${name} started` });
      const started = performance.now();
      const seconds = (): number => (performance.now() - started) / 1000;
      try {
        // A step that ignores its signal must not hold the task past its
        // deadline: the race ends the wait; the step's own work is abandoned.
        await Promise.race([fn(), rejectOnAbort(signal)]);
        observer?.stepEnded(kind, name, 'success', seconds());
        return;
      } catch (err) {
        if (signal.aborted) {
          if (signal.reason instanceof DeadlineError) {
            observer?.stepEnded(kind, name, 'failure', seconds());
            throw err;
          }
          throw signal.reason;
        }
        const final = !isRetryable(err) || attempt + 1 >= max;
        observer?.stepEnded(kind, name, final ? 'failure' : 'retry', seconds());
        const message = err instanceof Error ? err.message : String(err);
        tasks.stepError(id, idx, message, final);
        if (final) throw err;
        const wait = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)]!;
        log.warn({ taskId: id, step: name, attempt: attempt + 1, msg: message }, `step failed; retrying in ${wait} ms`);
        await sleep(wait, signal);
      }
    }
  }

  private progress(taskId: string, step: string, p: StepProgress): void {
    const rec = this.deps.tasks.addEvent({
      task_id: taskId,
      step,
      phase: p.phase,
      message: p.message,
      percent: p.percent ?? 0,
      bytes_done: p.bytesDone ?? 0,
      bytes_total: p.bytesTotal ?? 0,
      at: Date.now(),
    });
    this.deps.events.emit('progress', rec);
  }
}

export class DeadlineError extends Error {
  constructor(ms: number) {
    super(`the task deadline (${Math.round(ms / 1000)} s) passed`);
    this.name = 'DeadlineError';
  }
}

function rejectOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) return reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export type { TaskRow };
