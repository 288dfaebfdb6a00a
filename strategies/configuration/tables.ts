// The rule tables by datastore manager and version: one JSON file each under
// rules/ (`<manager>-<version>.json`), data in the source tree resolved from
// the installation root (also when running from dist/, and in an agent
// image, which carries strategies/). Loaded once and kept: a table never
// changes while a process runs.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../lib/repo-root.js';
import { loadRules, type RuleSet } from './rules.js';

/** The folder of the rule tables. */
export const RULES_DIR = path.join(repoRoot(), 'strategies/configuration/rules');

// Manager and version names are plain tokens: a name from a request or a
// catalog row cannot walk out of the folder.
const TOKEN = /^[a-z][a-z0-9-]{0,31}$/;
const VERSION = /^[0-9][0-9A-Za-z.-]{0,31}$/;

const cache = new Map<string, RuleSet>();

/** The file of a manager version's table (it may not exist). */
export function rulesFile(manager: string, version: string): string {
  if (!TOKEN.test(manager) || !VERSION.test(version)) throw new Error(`no rule table can be named by ${JSON.stringify(manager)} ${JSON.stringify(version)}`);
  return path.join(RULES_DIR, `${manager}-${version}.json`);
}

/** The table of a manager version, or undefined when there is none. */
export function ruleTable(manager: string, version: string): RuleSet | undefined {
  const key = `${manager}\0${version}`;
  const hit = cache.get(key);
  if (hit) return hit;
  if (!TOKEN.test(manager) || !VERSION.test(version)) return undefined;
  const file = rulesFile(manager, version);
  if (!existsSync(file)) return undefined;
  const rules = loadRules(file);
  cache.set(key, rules);
  return rules;
}
