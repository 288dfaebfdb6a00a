// The task engine's records: tasks, their steps and their progress events.
import type { Db } from '../db/database.js';
import type { ProgressRecord } from '../events.js';
import { scopeWhere, type Scope } from './scope.js';

/**
 * - RUNNING: steps are being run, or will be resumed when the control starts.
 * - SUCCEEDED: every step is done.
 * - FAILED: a step failed for good or the deadline passed; `error` says which and why.
 */
export type TaskState = 'RUNNING' | 'SUCCEEDED' | 'FAILED';
export type StepState = 'pending' | 'running' | 'done' | 'failed';

export interface TaskRow {
  id: string;
  project: string;
  kind: string;
  resource_id: string;
  state: TaskState;
  current_step: string;
  error: string;
  data: string;
  created_at: number;
  updated_at: number;
  deadline: number;
}

export interface StepRow {
  task_id: string;
  idx: number;
  name: string;
  state: StepState;
  attempts: number;
  error: string;
  started_at: number | null;
  finished_at: number | null;
}

export class TaskStore {
  constructor(private readonly db: Db) {}

  insert(t: Pick<TaskRow, 'id' | 'project' | 'kind' | 'resource_id' | 'data' | 'deadline'>, steps: readonly string[], now = Date.now()): void {
    this.db
      .prepare(
        `INSERT INTO tasks (id, project, kind, resource_id, state, data, created_at, updated_at, deadline)
         VALUES (@id, @project, @kind, @resource_id, 'RUNNING', @data, @now, @now, @deadline)`,
      )
      .run({ ...t, now });
    const step = this.db.prepare("INSERT INTO task_steps (task_id, idx, name, state) VALUES (?, ?, ?, 'pending')");
    steps.forEach((name, idx) => step.run(t.id, idx, name));
  }

  get(id: string, scope?: Scope): TaskRow | undefined {
    const w = scope ? scopeWhere(scope) : { sql: '1 = 1', params: [] };
    return this.db.prepare(`SELECT * FROM tasks WHERE id = ? AND ${w.sql}`).get(id, ...w.params) as TaskRow | undefined;
  }

  running(): TaskRow[] {
    return this.db.prepare("SELECT * FROM tasks WHERE state = 'RUNNING' ORDER BY created_at").all() as TaskRow[];
  }

  steps(taskId: string): StepRow[] {
    return this.db.prepare('SELECT * FROM task_steps WHERE task_id = ? ORDER BY idx').all(taskId) as StepRow[];
  }

  /** The latest tasks on any of these resources (an instance and its backups), newest first. */
  recentFor(resourceIds: readonly string[], scope: Scope, limit: number): TaskRow[] {
    if (!resourceIds.length) return [];
    const w = scopeWhere(scope);
    const marks = resourceIds.map(() => '?').join(', ');
    return this.db
      .prepare(`SELECT * FROM tasks WHERE resource_id IN (${marks}) AND ${w.sql} ORDER BY created_at DESC, rowid DESC LIMIT ?`)
      .all(...resourceIds, ...w.params, limit) as TaskRow[];
  }

  /** The task's last progress event, if it reported any. */
  lastEvent(taskId: string): ProgressRecord | undefined {
    return this.db.prepare('SELECT * FROM task_events WHERE task_id = ? ORDER BY seq DESC LIMIT 1').get(taskId) as ProgressRecord | undefined;
  }

  stepStarted(taskId: string, idx: number, name: string, now = Date.now()): void {
    this.db.transaction(() => {
      this.db.prepare("UPDATE task_steps SET state = 'running', attempts = attempts + 1, started_at = ? WHERE task_id = ? AND idx = ?").run(now, taskId, idx);
      this.db.prepare('UPDATE tasks SET current_step = ?, updated_at = ? WHERE id = ?').run(name, now, taskId);
    })();
  }

  stepDone(taskId: string, idx: number, data: string, now = Date.now()): void {
    this.db.transaction(() => {
      this.db.prepare("UPDATE task_steps SET state = 'done', error = '', finished_at = ? WHERE task_id = ? AND idx = ?").run(now, taskId, idx);
      this.db.prepare('UPDATE tasks SET data = ?, updated_at = ? WHERE id = ?').run(data, now, taskId);
    })();
  }

  stepError(taskId: string, idx: number, error: string, final: boolean, now = Date.now()): void {
    this.db
      .prepare('UPDATE task_steps SET state = ?, error = ?, finished_at = ? WHERE task_id = ? AND idx = ?')
      .run(final ? 'failed' : 'running', error, now, taskId, idx);
  }

  saveData(taskId: string, data: string, now = Date.now()): void {
    this.db.prepare('UPDATE tasks SET data = ?, updated_at = ? WHERE id = ?').run(data, now, taskId);
  }

  finish(taskId: string, state: 'SUCCEEDED' | 'FAILED', error: string, data: string, now = Date.now()): void {
    this.db.prepare('UPDATE tasks SET state = ?, error = ?, data = ?, updated_at = ? WHERE id = ?').run(state, error, data, now, taskId);
  }

  addEvent(e: Omit<ProgressRecord, 'seq'>): ProgressRecord {
    const r = this.db
      .prepare(
        `INSERT INTO task_events (task_id, step, phase, message, percent, bytes_done, bytes_total, at)
         VALUES (@task_id, @step, @phase, @message, @percent, @bytes_done, @bytes_total, @at)`,
      )
      .run(e);
    return { ...e, seq: Number(r.lastInsertRowid) };
  }

  events(taskId: string, afterSeq = 0): ProgressRecord[] {
    return this.db.prepare('SELECT * FROM task_events WHERE task_id = ? AND seq > ? ORDER BY seq').all(taskId, afterSeq) as ProgressRecord[];
  }
}
