// Configuration overrides: validated against the rules file, persisted with
// ALTER SYSTEM (postgresql.auto.conf, in the data directory) and in the
// agent's rendered postgresql.conf (so a fresh data directory, e.g. after a
// restore, gets them too), then applied with pg_reload_conf(). Whether a
// change is live or waits for a restart is the server's own answer:
// pg_settings.context "postmaster" means restart.
import type { ConfigurationCapability } from '../manager.js';
import type { ParameterChange } from '../../../proto/gen/coffer/agent/v1/configuration.js';
import type { OverridesStore } from '../../overrides-store.js';
import { normalizeValue, toParameters, type RuleSet } from './rules.js';
import { quoteLiteral, type PgClient } from './pg-client.js';

export class PgConfiguration implements ConfigurationCapability {
  constructor(
    private readonly sql: PgClient,
    private readonly rules: RuleSet,
    private readonly store: OverridesStore,
    /** Renders and writes postgresql.conf for these overrides. */
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
    const rows = await this.sql.query('SELECT name, current_setting(name) AS value FROM pg_settings WHERE name = ANY($1::text[])', [
      Object.keys(this.rules.parameters),
    ]);
    return Object.fromEntries(rows.map((r) => [String(r.name), String(r.value)]));
  }

  private async contexts(names: readonly string[]): Promise<Map<string, string>> {
    const rows = await this.sql.query('SELECT name, context FROM pg_settings WHERE name = ANY($1::text[])', [names]);
    return new Map(rows.map((r) => [String(r.name), String(r.context)]));
  }

  /**
   * Applies a plan: `set` are new values, `unset` go back to the server's
   * default. The server checks every value in ALTER SYSTEM; if it refuses
   * one, the ones already written are put back and nothing is persisted by
   * the agent either.
   */
  private async apply(next: Record<string, string>, set: Record<string, string>, unset: string[], old: Record<string, string>) {
    const names = [...Object.keys(set), ...unset];
    const contexts = await this.contexts(names);
    const done: string[] = [];
    try {
      // Names come from the rules file (plain identifiers, loadRules checks);
      // values are quoted literals. ALTER SYSTEM takes no bind parameters.
      for (const name of Object.keys(set)) {
        await this.sql.query(`ALTER SYSTEM SET ${name} = ${quoteLiteral(set[name]!)}`);
        done.push(name);
      }
      for (const name of unset) {
        await this.sql.query(`ALTER SYSTEM RESET ${name}`);
        done.push(name);
      }
    } catch (err) {
      for (const name of done) {
        const back = old[name] === undefined ? `ALTER SYSTEM RESET ${name}` : `ALTER SYSTEM SET ${name} = ${quoteLiteral(old[name]!)}`;
        await this.sql.query(back).catch(() => undefined);
      }
      throw err;
    }
    await this.writeConfig(next);
    this.store.set(next);
    await this.sql.query('SELECT pg_reload_conf()');
    const changes: ParameterChange[] = names.map((name) => {
      const restart = (contexts.get(name) ?? 'postmaster') === 'postmaster';
      return { name, value: set[name] ?? '', appliedLive: !restart, restartRequired: restart };
    });
    return { changes, restartRequired: changes.some((c) => c.restartRequired) };
  }

  async update(overrides: Readonly<Record<string, string>>, replace: boolean) {
    const set = this.normalize(overrides);
    const old = this.store.get();
    const next = replace ? { ...set } : { ...old, ...set };
    const unset = replace ? Object.keys(old).filter((n) => !(n in set) && n in this.rules.parameters) : [];
    return this.apply(next, set, unset, old);
  }

  async reset() {
    const old = this.store.get();
    return this.apply({}, {}, Object.keys(old).filter((n) => n in this.rules.parameters), old);
  }
}
