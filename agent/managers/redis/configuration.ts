// What configuration means for Redis (the capability itself is
// ../configuration/capability.ts): dynamic parameters are applied with one
// CONFIG SET (atomic in Redis 7: all or none); a parameter without an
// override goes back to the template's value, else Redis's default. The
// rendered redis.conf is the source of truth (no CONFIG REWRITE).
import type { AdminClient } from './admin-client.js';
import type { ConfigurationApplier, LiveChange } from '../configuration/capability.js';
import { ruleOf, type RuleSet } from '../../../strategies/configuration/rules.js';
import { TEMPLATE_SETTINGS } from './redis-conf.js';

/** The value a parameter has without an override: the template's, else Redis's default. */
export function baseValue(rules: RuleSet, name: string): string {
  return Object.hasOwn(TEMPLATE_SETTINGS, name) ? TEMPLATE_SETTINGS[name]! : ruleOf(rules, name)!.default!;
}

export function redisApplier(
  client: AdminClient,
  rules: RuleSet,
  /** Renders and writes redis.conf for these overrides. */
  writeConfig: (overrides: Readonly<Record<string, string>>) => Promise<void>,
): ConfigurationApplier {
  const configSet = async (pairs: ReadonlyArray<readonly [string, string]>): Promise<void> => {
    if (pairs.length) await client.call('CONFIG', 'SET', ...pairs.flat());
  };
  return {
    writeConfig,
    async current(names) {
      const reply = (await client.call('CONFIG', 'GET', ...names)) as unknown[];
      const out: Record<string, string> = {};
      for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
      return out;
    },
    async applyLive(changes: readonly LiveChange[]) {
      const live = changes.filter((c) => ruleOf(rules, c.name)!.dynamic);
      await configSet(live.map((c) => [c.name, c.value ?? baseValue(rules, c.name)]));
      return () => configSet(live.map((c) => [c.name, c.previous ?? baseValue(rules, c.name)]));
    },
  };
}
