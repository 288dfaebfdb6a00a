// Configuration validation rules, kept as data (rules/<datastore>-<version>.json)
// and compiled once. A value is normalised here to the form both the config
// file and SET GLOBAL accept, so what is persisted is what was checked.
import { readFileSync } from 'node:fs';
import { invalid } from '../../errors.js';
import type { Parameter } from '../../../proto/gen/coffer/agent/v1/configuration.js';

export interface ParameterRule {
  readonly type: 'integer' | 'float' | 'boolean' | 'string';
  readonly min?: number;
  readonly max?: number;
  readonly dynamic: boolean;
  readonly allowed?: readonly string[];
  readonly pattern?: string;
  readonly description?: string;
}

export interface RuleSet {
  readonly datastore: string;
  readonly version: string;
  readonly parameters: Readonly<Record<string, ParameterRule>>;
}

const NAME = /^[a-z][a-z0-9_]*$/;
const SIZE = /^(\d+)([KMG]?)$/i;
const FLOAT = /^\d+(\.\d+)?$/;
const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

export function loadRules(file: string): RuleSet {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as RuleSet;
  for (const [name, rule] of Object.entries(raw.parameters)) {
    // The names end up unquoted in SET GLOBAL and the config file: the
    // rules file itself must not be able to smuggle anything in.
    if (!NAME.test(name)) throw new Error(`rules file ${file}: parameter name "${name}" is not a plain identifier`);
    if (!['integer', 'float', 'boolean', 'string'].includes(rule.type)) throw new Error(`rules file ${file}: ${name} has unknown type ${rule.type}`);
    if (rule.type === 'string' && !rule.allowed && !rule.pattern) throw new Error(`rules file ${file}: string ${name} needs allowed values or a pattern`);
  }
  return Object.freeze(raw);
}

/** Returns the normalised value or throws INVALID_ARGUMENT naming the parameter. */
export function normalizeValue(rules: RuleSet, name: string, value: string): string {
  const rule = rules.parameters[name];
  if (!rule) {
    throw invalid(`unknown configuration parameter "${name.slice(0, 64)}" for ${rules.datastore} ${rules.version}; see ListParameters`);
  }
  const v = value.trim();
  const range = (n: number): void => {
    if (rule.min !== undefined && n < rule.min) throw invalid(`${name} must be at least ${rule.min}, got ${value}`);
    if (rule.max !== undefined && n > rule.max) throw invalid(`${name} must be at most ${rule.max}, got ${value}`);
  };
  switch (rule.type) {
    case 'integer': {
      const m = SIZE.exec(v);
      if (!m) throw invalid(`${name} must be an integer (K, M or G suffix allowed), got ${JSON.stringify(value)}`);
      const n = Number(m[1]) * UNITS[m[2]!.toUpperCase()]!;
      if (!Number.isSafeInteger(n)) throw invalid(`${name} is too large: ${value}`);
      range(n);
      return String(n);
    }
    case 'float': {
      if (!FLOAT.test(v)) throw invalid(`${name} must be a non-negative number, got ${JSON.stringify(value)}`);
      range(Number(v));
      return v;
    }
    case 'boolean': {
      const l = v.toLowerCase();
      if (['on', '1', 'true', 'yes'].includes(l)) return 'ON';
      if (['off', '0', 'false', 'no'].includes(l)) return 'OFF';
      throw invalid(`${name} must be ON or OFF, got ${JSON.stringify(value)}`);
    }
    case 'string': {
      if (rule.allowed) {
        const hit = rule.allowed.find((a) => a.toLowerCase() === v.toLowerCase());
        if (!hit) throw invalid(`${name} must be one of ${rule.allowed.join(', ')}, got ${JSON.stringify(value)}`);
        return hit;
      }
      if (v.length > 1024 || !new RegExp(rule.pattern!).test(v)) {
        throw invalid(`${name} has characters that are not allowed: ${JSON.stringify(value.slice(0, 80))}`);
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
