// Backup records.
import type { Db } from '../db/database.js';
import { scopeWhere, type Scope } from './scope.js';

/**
 * - NEW: recorded, the task has not reached the agent yet.
 * - BUILDING: the agent is making it.
 * - COMPLETED: stored; location, size and checksum are set.
 * - FAILED: fault_step and fault_message say why.
 * - DELETING: the delete task runs.
 */
export type BackupStatus = 'NEW' | 'BUILDING' | 'COMPLETED' | 'FAILED' | 'DELETING';
export type BackupKind = 'FULL' | 'INCREMENTAL';

export interface BackupRow {
  id: string;
  project: string;
  instance_id: string;
  name: string;
  status: BackupStatus;
  kind: BackupKind;
  parent_id: string | null;
  size_bytes: number;
  storage: string;
  location: string;
  checksum: string;
  artifact: string | null;
  fault_step: string | null;
  fault_message: string | null;
  task_id: string | null;
  datastore: string;
  datastore_version: string;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
}

export class BackupStore {
  constructor(private readonly db: Db) {}

  insert(b: Pick<BackupRow, 'id' | 'project' | 'instance_id' | 'name' | 'kind' | 'parent_id' | 'datastore' | 'datastore_version'>, now = Date.now()): void {
    this.db
      .prepare(
        `INSERT INTO backups (id, project, instance_id, name, status, kind, parent_id, datastore, datastore_version, created_at, updated_at)
         VALUES (@id, @project, @instance_id, @name, 'NEW', @kind, @parent_id, @datastore, @datastore_version, @now, @now)`,
      )
      .run({ ...b, now });
  }

  get(id: string, scope?: Scope): BackupRow | undefined {
    const w = scope ? scopeWhere(scope) : { sql: '1 = 1', params: [] };
    return this.db.prepare(`SELECT * FROM backups WHERE id = ? AND deleted_at IS NULL AND ${w.sql}`).get(id, ...w.params) as BackupRow | undefined;
  }

  list(scope: Scope, limit: number, afterId: string, instanceId?: string): BackupRow[] {
    const w = scopeWhere(scope);
    const byInstance = instanceId ? 'AND instance_id = ?' : '';
    const params = instanceId ? [...w.params, instanceId] : w.params;
    return this.db
      .prepare(`SELECT * FROM backups WHERE deleted_at IS NULL AND ${w.sql} ${byInstance} AND id > ? ORDER BY id LIMIT ?`)
      .all(...params, afterId, limit) as BackupRow[];
  }

  latestCompleted(instanceId: string): BackupRow | undefined {
    return this.db
      .prepare("SELECT * FROM backups WHERE instance_id = ? AND status = 'COMPLETED' AND deleted_at IS NULL ORDER BY created_at DESC LIMIT 1")
      .get(instanceId) as BackupRow | undefined;
  }

  /** Live incremental backups whose parent is this one. */
  children(id: string): BackupRow[] {
    return this.db.prepare('SELECT * FROM backups WHERE parent_id = ? AND deleted_at IS NULL ORDER BY created_at').all(id) as BackupRow[];
  }

  update(id: string, patch: Partial<Omit<BackupRow, 'id' | 'project' | 'created_at'>>, now = Date.now()): void {
    const keys = Object.keys(patch);
    if (!keys.length) return;
    const set = keys.map((k) => `${k} = @${k}`).join(', ');
    this.db.prepare(`UPDATE backups SET ${set}, updated_at = @now WHERE id = @id`).run({ ...patch, id, now });
  }
}
