// Configuration overrides for Redis: validated against the rules file, the
// dynamic ones applied live with one CONFIG SET (atomic in Redis 7: all or
// none), then redis.conf is rendered again and the overrides stored. The
// rendered file is the source of truth (no CONFIG REWRITE); parameters
// Redis cannot change live are reported as needing a restart.
import type { ConfigurationCapability } from '../manager.js';
import type { ParameterChange } from '../../../proto/gen/coffer/agent/v1/configuration.js';
import type { OverridesStore } from '../../overrides-store.js';
import type { AdminClient } from './admin-client.js';
import { normalizeValue, toParameters, type RuleSet } from './rules.js';
import { TEMPLATE_SETTINGS } from './redis-conf.js';

export class RedisConfiguration implements ConfigurationCapability {
  constructor(
    private readonly client: AdminClient,
    private readonly rules: RuleSet,
    private readonly store: OverridesStore,
    /** Renders and writes redis.conf for these overrides. */
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

  /** The value a parameter has without an override: the template's, else Redis's default. */
  baseValue(name: string): string {
    return TEMPLATE_SETTINGS[name] ?? this.rules.parameters[name]!.default;
  }

  /** What is in force: the template and the overrides (the rendered file). */
  effective(): Record<string, string> {
    return { ...TEMPLATE_SETTINGS, ...this.store.get() };
  }

  async current(): Promise<Record<string, string>> {
    const reply = (await this.client.call('CONFIG', 'GET', ...Object.keys(this.rules.parameters))) as unknown[];
    const out: Record<string, string> = {};
    for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
    return out;
  }

  /** Applies `next` as the new overrides; `touched` are the parameters whose value changes. */
  private async apply(next: Record<string, string>, touched: readonly string[]) {
    const live = touched.filter((n) => this.rules.parameters[n]!.dynamic);
    if (live.length) {
      const args = live.flatMap((n) => [n, next[n] ?? this.baseValue(n)]);
      await this.client.call('CONFIG', 'SET', ...args);
    }
    try {
      await this.writeConfig(next);
    } catch (err) {
      // The file could not be written: take the live change back.
      const old = this.store.get();
      if (live.length) await this.client.call('CONFIG', 'SET', ...live.flatMap((n) => [n, old[n] ?? this.baseValue(n)])).catch(() => undefined);
      throw err;
    }
    this.store.set(next);
    const changes: ParameterChange[] = touched.map((name) => {
      const dynamic = this.rules.parameters[name]!.dynamic;
      return { name, value: next[name] ?? '', appliedLive: dynamic, restartRequired: !dynamic };
    });
    return { changes, restartRequired: changes.some((c) => c.restartRequired) };
  }

  async update(overrides: Readonly<Record<string, string>>, replace: boolean) {
    const set = this.normalize(overrides);
    const old = this.store.get();
    const next = replace ? { ...set } : { ...old, ...set };
    const unset = replace ? Object.keys(old).filter((n) => !(n in set) && n in this.rules.parameters) : [];
    return this.apply(next, [...Object.keys(set), ...unset]);
  }

  async reset() {
    const old = this.store.get();
    return this.apply({}, Object.keys(old).filter((n) => n in this.rules.parameters));
  }
}
