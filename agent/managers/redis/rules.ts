// Redis's rule table (rules/redis-<version>.json) read by the shared engine
// (../configuration/rules.ts), plus what only Redis's table holds: each
// parameter's own default (what a reset goes back to unless the template
// sets it) and the version's ACL categories (acl-rules.ts checks against them).
import { loadRules, type RuleSet } from '../../../strategies/configuration/rules.js';

export interface RedisRuleSet extends RuleSet {
  readonly aclCategories: readonly string[];
}

export function loadRedisRules(file: string): RedisRuleSet {
  const rules = loadRules(file) as RedisRuleSet;
  if (!Array.isArray(rules.aclCategories) || !rules.aclCategories.every((c) => /^[a-z]+$/.test(c))) {
    throw new Error(`rules file ${file}: aclCategories must be a list of lower-case names`);
  }
  for (const [name, rule] of Object.entries(rules.parameters)) {
    if (typeof rule.default !== 'string') throw new Error(`rules file ${file}: ${name} needs its default as a string`);
  }
  return rules;
}
