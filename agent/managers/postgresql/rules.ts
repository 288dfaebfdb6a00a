// Configuration validation rules, kept as data (rules/postgresql-<v>.json)
// and compiled once. Numbers keep PostgreSQL's own notation (a count in the
// parameter's base unit, or a number with a unit such as 256MB or 30s); a
// value is normalised here to the one form that is both written to
// postgresql.conf and given to ALTER SYSTEM, so what is persisted is what
// was checked.
import { readFileSync } from 'node:fs';
import { invalid } from '../../errors.js';
import type { Parameter } from '../../../proto/gen/coffer/agent/v1/configuration.js';

export interface ParameterRule {
  /** The proto's types; PostgreSQL's enum is a string with `allowed`, real is float. */
  readonly type: 'integer' | 'float' | 'boolean' | 'string';
  /** Bounds in `unit` (the base unit pg_settings reports). */
  readonly min?: number;
  readonly max?: number;
  /** pg_settings.unit: kB, 8kB, MB, ms, s, min; absent for plain numbers. */
  readonly unit?: string;
  readonly allowed?: readonly string[];
  /** pg_settings.context is postmaster: only a restart applies it. */
  readonly restart: boolean;
  readonly description?: string;
}

export interface RuleSet {
  readonly datastore: string;
  readonly version: string;
  readonly parameters: Readonly<Record<string, ParameterRule>>;
}

const NAME = /^[a-z][a-z0-9_]*$/;
const INTEGER = /^(-?\d+)\s*([A-Za-z]*)$/;
const FLOAT = /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/;

// Units PostgreSQL accepts, case-sensitively, with their size in the base
// unit of their kind (kB for memory, ms for time).
const MEMORY: Readonly<Record<string, number>> = { B: 1 / 1024, kB: 1, MB: 1024, GB: 1024 ** 2, TB: 1024 ** 3 };
const TIME: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };
const BASE: Readonly<Record<string, { table: Readonly<Record<string, number>>; size: number }>> = {
  kB: { table: MEMORY, size: 1 },
  '8kB': { table: MEMORY, size: 8 },
  MB: { table: MEMORY, size: 1024 },
  ms: { table: TIME, size: 1 },
  s: { table: TIME, size: 1000 },
  min: { table: TIME, size: 60_000 },
};

export function loadRules(file: string): RuleSet {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as RuleSet;
  for (const [name, rule] of Object.entries(raw.parameters)) {
    // Names end up unquoted in ALTER SYSTEM and postgresql.conf: the rules
    // file itself must not be able to smuggle anything in.
    if (!NAME.test(name)) throw new Error(`rules file ${file}: parameter name "${name}" is not a plain identifier`);
    if (!['integer', 'float', 'boolean', 'string'].includes(rule.type)) throw new Error(`rules file ${file}: ${name} has unknown type ${rule.type}`);
    if (rule.type === 'string' && !rule.allowed?.length) throw new Error(`rules file ${file}: string ${name} needs allowed values`);
    if (rule.unit !== undefined && !BASE[rule.unit]) throw new Error(`rules file ${file}: ${name} has unknown unit ${rule.unit}`);
    if (typeof rule.restart !== 'boolean') throw new Error(`rules file ${file}: ${name} must say whether it needs a restart`);
  }
  return Object.freeze(raw);
}

/** Returns the normalised value or throws INVALID_ARGUMENT naming the parameter. */
export function normalizeValue(rules: RuleSet, name: string, value: string): string {
  const rule = Object.hasOwn(rules.parameters, name) ? rules.parameters[name] : undefined;
  if (!rule) {
    throw invalid(`unknown configuration parameter ${JSON.stringify(name.slice(0, 64))} for ${rules.datastore} ${rules.version}; see ListParameters`);
  }
  if (/[\x00-\x1f\x7f]/.test(value)) throw invalid(`${name} must not contain control characters (newlines included)`);
  const v = value.trim();
  const range = (n: number, shown: string): void => {
    const unit = rule.unit ?? '';
    if (rule.min !== undefined && n < rule.min) throw invalid(`${name} must be at least ${rule.min}${unit}, got ${shown}`);
    if (rule.max !== undefined && n > rule.max) throw invalid(`${name} must be at most ${rule.max}${unit}, got ${shown}`);
  };
  switch (rule.type) {
    case 'integer': {
      const m = INTEGER.exec(v);
      if (!m) throw invalid(`${name} must be an integer${rule.unit ? ' with an optional unit' : ''}, got ${JSON.stringify(value)}`);
      const n = Number(m[1]);
      const given = m[2]!;
      if (!given) {
        range(n, v);
        return String(n);
      }
      const base = rule.unit ? BASE[rule.unit] : undefined;
      const hit = base && Object.keys(base.table).find((u) => u.toLowerCase() === given.toLowerCase());
      if (!base || !hit) {
        const units = base ? Object.keys(base.table).join(', ') : 'none';
        throw invalid(`${name} does not take the unit ${JSON.stringify(given)}; units allowed: ${units}`);
      }
      // PostgreSQL rounds to the base unit; so do the bounds checks.
      range(Math.round((n * base.table[hit]!) / base.size), v);
      return `${n}${hit}`;
    }
    case 'float': {
      if (!FLOAT.test(v)) throw invalid(`${name} must be a number, got ${JSON.stringify(value)}`);
      range(Number(v), v);
      return v;
    }
    case 'boolean': {
      const l = v.toLowerCase();
      if (['on', 'true', 'yes', '1'].includes(l)) return 'on';
      if (['off', 'false', 'no', '0'].includes(l)) return 'off';
      throw invalid(`${name} must be on or off, got ${JSON.stringify(value)}`);
    }
    case 'string': {
      const hit = rule.allowed!.find((a) => a.toLowerCase() === v.toLowerCase());
      if (hit === undefined) throw invalid(`${name} must be one of ${rule.allowed!.join(', ')}, got ${JSON.stringify(value.slice(0, 80))}`);
      return hit;
    }
  }
}

export function toParameters(rules: RuleSet): Parameter[] {
  return Object.entries(rules.parameters).map(([name, r]) => ({
    name,
    type: r.type,
    min: r.min === undefined ? '' : `${r.min}${r.unit ?? ''}`,
    max: r.max === undefined ? '' : `${r.max}${r.unit ?? ''}`,
    dynamic: !r.restart,
    allowedValues: [...(r.allowed ?? [])],
    description: r.description ?? '',
  }));
}
