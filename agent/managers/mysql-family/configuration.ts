// Configuration overrides for the MySQL family: validated against the rules
// file, dynamic ones applied live with SET GLOBAL, all persisted to the
// option file; the rest reported as needing a restart.
import type { ConfigurationCapability } from '../manager.js';
import type { ParameterChange } from '../../../proto/gen/coffer/agent/v1/configuration.js';
import type { OverridesStore } from '../../overrides-store.js';
import { normalizeValue, toParameters, type RuleSet } from './rules.js';
import { escape, type SqlClient } from './sql-client.js';

export class MysqlConfiguration implements ConfigurationCapability {
  constructor(
    private readonly sql: SqlClient,
    private readonly rules: RuleSet,
    private readonly store: OverridesStore,
    /** Renders and writes the option file for these overrides. */
    private readonly writeConfig: (overrides: Readonly<Record<string, string>>) => Promise<void>,
  ) {}

  normalize(overrides: Readonly<Record<string, string>>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(overrides)) out[name] = normalizeValue(this.rules, name, value);
    return out;
  }

  validate(overrides: Readonly<Record<string, string>>): void {
    this.normalize(overrides);
  }

  parameters() {
    return toParameters(this.rules);
  }

  overrides(): Record<string, string> {
    return this.store.get();
  }

  async current(): Promise<Record<string, string>> {
    const names = Object.keys(this.rules.parameters);
    const rows = await this.sql.query('SELECT VARIABLE_NAME AS n, VARIABLE_VALUE AS v FROM information_schema.GLOBAL_VARIABLES WHERE VARIABLE_NAME IN (?)', [
      names.map((n) => n.toUpperCase()),
    ]);
    const out: Record<string, string> = {};
    for (const r of rows) out[String(r.n).toLowerCase()] = String(r.v);
    return out;
  }

  private literal(name: string, value: string): string {
    const type = this.rules.parameters[name]!.type;
    // Numbers and ON/OFF are validated tokens; strings are quoted literals.
    return type === 'string' ? escape(value) : value;
  }

  /**
   * Applies a plan: `set` are new values, `unset` go back to the server
   * default. Dynamic changes are made live first; if one is refused, the
   * ones already made are put back, and nothing is persisted.
   */
  private async apply(next: Record<string, string>, set: Record<string, string>, unset: string[]) {
    const changes: ParameterChange[] = [];
    const live = [...Object.keys(set), ...unset].filter((n) => this.rules.parameters[n]!.dynamic);
    const before = live.length ? await this.current() : {};
    const done: string[] = [];
    try {
      for (const name of live) {
        const expr = name in set ? this.literal(name, set[name]!) : 'DEFAULT';
        await this.sql.query(`SET GLOBAL ${name} = ${expr}`);
        done.push(name);
      }
    } catch (err) {
      for (const name of done) {
        const old = before[name];
        if (old !== undefined) await this.sql.query(`SET GLOBAL ${name} = ${this.literal(name, old)}`).catch(() => undefined);
      }
      throw err;
    }
    await this.writeConfig(next);
    this.store.set(next);
    for (const name of [...Object.keys(set), ...unset]) {
      const dynamic = this.rules.parameters[name]!.dynamic;
      changes.push({ name, value: set[name] ?? '', appliedLive: dynamic, restartRequired: !dynamic });
    }
    return { changes, restartRequired: changes.some((c) => c.restartRequired) };
  }

  async update(overrides: Readonly<Record<string, string>>, replace: boolean) {
    const set = this.normalize(overrides);
    const old = this.store.get();
    const next = replace ? { ...set } : { ...old, ...set };
    const unset = replace ? Object.keys(old).filter((n) => !(n in set) && n in this.rules.parameters) : [];
    return this.apply(next, set, unset);
  }

  async reset() {
    const old = this.store.get();
    return this.apply({}, {}, Object.keys(old).filter((n) => n in this.rules.parameters));
  }
}
