// Redis configuration rules, kept as data (rules/redis-<version>.json) and
// compiled once. A value is normalised here to the form both redis.conf and
// CONFIG SET accept, so what is persisted is exactly what was checked. Also
// holds the version's ACL categories (acl-rules.ts checks against them).
import { readFileSync } from 'node:fs';
import { invalid } from '../../errors.js';
import type { Parameter } from '../../../proto/gen/coffer/agent/v1/configuration.js';

export interface ParameterRule {
  readonly type: 'integer' | 'boolean' | 'string';
  readonly min?: number;
  readonly max?: number;
  /** CONFIG SET can change it on a running server. */
  readonly dynamic: boolean;
  readonly allowed?: readonly string[];
  readonly pattern?: string;
  /** Redis's own default, as CONFIG GET reports it: what a reset goes back to (unless the template sets it). */
  readonly default: string;
  readonly description?: string;
}

export interface RuleSet {
  readonly datastore: string;
  readonly version: string;
  readonly aclCategories: readonly string[];
  readonly parameters: Readonly<Record<string, ParameterRule>>;
}

// Names end up unquoted in redis.conf and as CONFIG SET arguments: the rules
// file itself must not be able to smuggle anything in.
const NAME = /^[a-z][a-z0-9-]*$/;
const INTEGER = /^(-?\d{1,19})([KMG]?)$/i;
const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

export function loadRules(file: string): RuleSet {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as RuleSet;
  if (!Array.isArray(raw.aclCategories) || !raw.aclCategories.every((c) => /^[a-z]+$/.test(c))) {
    throw new Error(`rules file ${file}: aclCategories must be a list of lower-case names`);
  }
  for (const [name, rule] of Object.entries(raw.parameters)) {
    if (!NAME.test(name)) throw new Error(`rules file ${file}: parameter name "${name}" is not a plain config name`);
    if (!['integer', 'boolean', 'string'].includes(rule.type)) throw new Error(`rules file ${file}: ${name} has unknown type ${rule.type}`);
    if (rule.type === 'string' && !rule.allowed && !rule.pattern) throw new Error(`rules file ${file}: string ${name} needs allowed values or a pattern`);
    if (typeof rule.default !== 'string') throw new Error(`rules file ${file}: ${name} needs its default as a string`);
  }
  return Object.freeze(raw);
}

/** Returns the normalised value or throws INVALID_ARGUMENT naming the parameter. */
export function normalizeValue(rules: RuleSet, name: string, value: string): string {
  const rule = Object.hasOwn(rules.parameters, name) ? rules.parameters[name] : undefined;
  if (!rule) {
    throw invalid(`unknown configuration parameter ${JSON.stringify(name.slice(0, 64))} for ${rules.datastore} ${rules.version}; see ListParameters`);
  }
  // Checked before trimming: a line break anywhere is an injection attempt, not whitespace.
  if (/[\r\n\0]/.test(value)) throw invalid(`${name} must not contain line breaks or NUL characters`);
  const v = value.trim();
  switch (rule.type) {
    case 'integer': {
      const m = INTEGER.exec(v);
      if (!m || (m[2] && m[1]!.startsWith('-'))) throw invalid(`${name} must be an integer (K, M or G suffix allowed), got ${JSON.stringify(value)}`);
      const n = Number(m[1]) * UNITS[m[2]!.toUpperCase()]!;
      if (!Number.isSafeInteger(n)) throw invalid(`${name} is too large: ${value}`);
      if (rule.min !== undefined && n < rule.min) throw invalid(`${name} must be at least ${rule.min}, got ${value}`);
      if (rule.max !== undefined && n > rule.max) throw invalid(`${name} must be at most ${rule.max}, got ${value}`);
      return String(n);
    }
    case 'boolean': {
      const l = v.toLowerCase();
      if (['yes', 'on', '1', 'true'].includes(l)) return 'yes';
      if (['no', 'off', '0', 'false'].includes(l)) return 'no';
      throw invalid(`${name} must be yes or no, got ${JSON.stringify(value)}`);
    }
    case 'string': {
      if (rule.allowed) {
        const hit = rule.allowed.find((a) => a.toLowerCase() === v.toLowerCase());
        if (!hit) throw invalid(`${name} must be one of ${rule.allowed.join(', ')}, got ${JSON.stringify(value)}`);
        return hit;
      }
      if (v.length > 1024 || !new RegExp(rule.pattern!).test(v)) {
        throw invalid(`${name} has a value that is not allowed: ${JSON.stringify(value.slice(0, 80))}`);
      }
      return v;
    }
  }
}

export function toParameters(rules: RuleSet): Parameter[] {
  return Object.entries(rules.parameters).map(([name, r]) => ({
    name,
    type: r.type,
    min: r.min === undefined ? '' : String(r.min),
    max: r.max === undefined ? '' : String(r.max),
    dynamic: r.dynamic,
    allowedValues: [...(r.allowed ?? [])],
    description: r.description ?? '',
  }));
}
