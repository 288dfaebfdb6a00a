// Configuration group records (docs/configuration-groups.md). Which
// instances a group is attached to is kept on the instance rows
// (instances.configuration_id, store/instances.ts).
import type { Db } from '../db/database.js';
import { scopeWhere, type Scope } from './scope.js';

export interface ConfigurationRow {
  id: string;
  project: string;
  name: string;
  description: string;
  datastore: string;
  datastore_version: string;
  /** The normalised values, a JSON object of strings. */
  values_json: string;
  /** The task that last applied the group to its instances. */
  task_id: string | null;
  created_at: number;
  updated_at: number;
}

export type NewConfiguration = Pick<ConfigurationRow, 'id' | 'project' | 'name' | 'description' | 'datastore' | 'datastore_version'> & { values: Record<string, string> };

/** The values of a row, as an object without a prototype (a name such as __proto__ stays a plain key). */
export function valuesOf(r: Pick<ConfigurationRow, 'values_json'>): Record<string, string> {
  return Object.assign(Object.create(null) as Record<string, string>, JSON.parse(r.values_json) as Record<string, string>);
}

export class ConfigurationStore {
  constructor(private readonly db: Db) {}

  insert(c: NewConfiguration, now = Date.now()): void {
    this.db
      .prepare(
        `INSERT INTO configurations (id, project, name, description, datastore, datastore_version, values_json, created_at, updated_at)
         VALUES (@id, @project, @name, @description, @datastore, @datastore_version, @values_json, @now, @now)`,
      )
      .run({ id: c.id, project: c.project, name: c.name, description: c.description, datastore: c.datastore, datastore_version: c.datastore_version, values_json: JSON.stringify(c.values), now });
  }

  /** A group visible to the scope (undefined for another project's). */
  get(id: string, scope?: Scope): ConfigurationRow | undefined {
    const w = scope ? scopeWhere(scope) : { sql: '1 = 1', params: [] };
    return this.db.prepare(`SELECT * FROM configurations WHERE id = ? AND ${w.sql}`).get(id, ...w.params) as ConfigurationRow | undefined;
  }

  /** A page in id order, after `afterId`. */
  list(scope: Scope, limit: number, afterId: string): ConfigurationRow[] {
    const w = scopeWhere(scope);
    return this.db.prepare(`SELECT * FROM configurations WHERE ${w.sql} AND id > ? ORDER BY id LIMIT ?`).all(...w.params, afterId, limit) as ConfigurationRow[];
  }

  update(id: string, patch: { name?: string; description?: string; values?: Record<string, string>; task_id?: string | null }, now = Date.now()): void {
    const set: Record<string, unknown> = {};
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.description !== undefined) set.description = patch.description;
    if (patch.values !== undefined) set.values_json = JSON.stringify(patch.values);
    if (patch.task_id !== undefined) set.task_id = patch.task_id;
    const keys = Object.keys(set);
    if (!keys.length) return;
    this.db.prepare(`UPDATE configurations SET ${keys.map((k) => `${k} = @${k}`).join(', ')}, updated_at = @now WHERE id = @id`).run({ ...set, id, now });
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM configurations WHERE id = ?').run(id);
  }

  /** How many live instances the group is attached to. */
  instanceCount(id: string): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM instances WHERE configuration_id = ? AND deleted_at IS NULL').get(id) as { n: number }).n;
  }
}
