// Configuration rules: one engine over per-datastore tables kept as data
// (strategies/configuration/rules/<manager>-<version>.json, tables.ts finds
// them). The agent enforces them (agent/managers/configuration/) and the
// control checks configuration groups against the same tables before any
// value reaches an agent: one source of truth for both. A table
// names each parameter a user may set, with its type, bounds, allowed values
// or pattern, and whether the server takes it live; its `notation` says how
// the datastore spells booleans and numbers (notation.ts). The engine
// normalises a value to the one form written to the config file and given
// to the live server, so what is persisted is exactly what was checked.
import { readFileSync } from 'node:fs';
import type { Parameter } from '../../proto/gen/coffer/agent/v1/configuration.js';
import { ParameterError } from './parameter-error.js';
import { checkNotation, normalizeBoolean, normalizeFloat, normalizeInteger, unitOf, type Notation } from './notation.js';

export interface ParameterRule {
  /** The proto's types: an enum is a string with `allowed`, a real is a float. */
  readonly type: 'integer' | 'float' | 'boolean' | 'string';
  /** Bounds, in the parameter's `unit` where it has one. */
  readonly min?: number;
  readonly max?: number;
  /** The base unit a count is in (PostgreSQL's pg_settings.unit); only with notation integers "units". */
  readonly unit?: string;
  /** The running server takes a new value without a restart. */
  readonly dynamic: boolean;
  readonly allowed?: readonly string[];
  /** For strings without `allowed`: a regular expression the whole value must match. */
  readonly pattern?: string;
  /** The server's own default as it reports it (Redis: what a reset goes back to). */
  readonly default?: string;
  readonly description?: string;
}

export interface RuleSet {
  readonly datastore: string;
  readonly version: string;
  readonly notation: Notation;
  readonly parameters: Readonly<Record<string, ParameterRule>>;
}

// Names end up unquoted in SET GLOBAL, ALTER SYSTEM, CONFIG SET and the
// config files: the rules file itself must not be able to smuggle anything in.
const NAME = /^[a-z][a-z0-9_-]*$/;
const TYPES: ReadonlySet<string> = new Set(['integer', 'float', 'boolean', 'string']);
// Any C0 control character or DEL: line breaks would start a new config
// line, NUL ends a C string early, and none belongs in a setting.
const CONTROL = /[\x00-\x1f\x7f]/;
const MAX_STRING = 1024;

/** Reads and checks a rules file; a bad file stops the agent at start, not at the first request. */
export function loadRules(file: string): RuleSet {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as RuleSet;
  const fail = (what: string): never => {
    throw new Error(`rules file ${file}: ${what}`);
  };
  if (typeof raw.datastore !== 'string' || typeof raw.version !== 'string') fail('needs datastore and version');
  const problem = checkNotation(raw.notation);
  if (problem) fail(problem);
  if (!raw.parameters || typeof raw.parameters !== 'object') fail('needs parameters');
  for (const [name, rule] of Object.entries(raw.parameters)) {
    if (!NAME.test(name)) fail(`parameter name "${name}" is not a plain identifier`);
    if (!TYPES.has(rule.type)) fail(`${name} has unknown type ${rule.type}`);
    if (typeof rule.dynamic !== 'boolean') fail(`${name} must say whether it is dynamic`);
    if (rule.type === 'string' && !rule.allowed?.length && !rule.pattern) fail(`string ${name} needs allowed values or a pattern`);
    if (rule.pattern !== undefined) new RegExp(rule.pattern);
    if (rule.unit !== undefined && (raw.notation.integers !== 'units' || !unitOf(rule.unit))) fail(`${name} has unknown unit ${rule.unit}`);
    if (rule.default !== undefined && typeof rule.default !== 'string') fail(`${name} needs its default as a string`);
  }
  return Object.freeze(raw);
}

/** The rule of a parameter the table names itself; never one inherited from Object.prototype. */
export function ruleOf(rules: RuleSet, name: string): ParameterRule | undefined {
  return Object.hasOwn(rules.parameters, name) ? rules.parameters[name] : undefined;
}

export const isParameter = (rules: RuleSet, name: string): boolean => ruleOf(rules, name) !== undefined;

/** Returns the normalised value or throws INVALID_ARGUMENT naming the parameter. */
export function normalizeValue(rules: RuleSet, name: string, value: string): string {
  const rule = ruleOf(rules, name);
  if (!rule) {
    throw new ParameterError(name.slice(0, 64), `unknown configuration parameter ${JSON.stringify(name.slice(0, 64))} for ${rules.datastore} ${rules.version}; see its parameters (ListParameters)`);
  }
  if (typeof value !== 'string') throw new ParameterError(name, `${name} must be given as a string`);
  // Checked before trimming: a control character anywhere is refused, not trimmed away.
  if (CONTROL.test(value)) throw new ParameterError(name, `${name} must not contain control characters (line breaks, tabs, NUL, DEL)`);
  const v = value.trim();
  const shown = JSON.stringify(value.slice(0, 80));
  const range = (n: number): void => {
    const unit = rule.unit ?? '';
    if (Number.isNaN(n)) throw new ParameterError(name, `${name} must be a number, got ${shown}`);
    if ((rule.min !== undefined && n < rule.min) || (rule.max !== undefined && n > rule.max)) {
      // The whole allowed range, so one refusal is enough to correct the value.
      const allowed = rule.min !== undefined && rule.max !== undefined ? `between ${rule.min}${unit} and ${rule.max}${unit}`
        : rule.min !== undefined ? `at least ${rule.min}${unit}` : `at most ${rule.max}${unit}`;
      throw new ParameterError(name, `${name} must be ${allowed}, got ${shown}`);
    }
  };
  switch (rule.type) {
    case 'integer': {
      const n = normalizeInteger(rules.notation, rule, name, v, shown);
      range(n.count);
      return n.text;
    }
    case 'float': {
      const text = normalizeFloat(name, v, shown);
      range(Number(text));
      return text;
    }
    case 'boolean':
      return normalizeBoolean(rules.notation, name, v, shown);
    case 'string': {
      if (rule.allowed?.length) {
        const hit = rule.allowed.find((a) => a.toLowerCase() === v.toLowerCase());
        if (hit === undefined) throw new ParameterError(name, `${name} must be one of ${rule.allowed.join(', ')}, got ${shown}`);
        return hit;
      }
      if (v.length > MAX_STRING || !new RegExp(rule.pattern!).test(v)) throw new ParameterError(name, `${name} has a value that is not allowed: ${shown}`);
      return v;
    }
  }
}

/** Normalises a whole set of overrides; the first bad one fails them all. */
export function normalizeOverrides(rules: RuleSet, overrides: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(overrides)) {
    // defineProperty: a name such as __proto__ must not reach the prototype
    // (normalizeValue refuses it anyway; this keeps the copy honest).
    Object.defineProperty(out, name, { value: normalizeValue(rules, name, value), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** The table as ListParameters shows it. */
export function toParameters(rules: RuleSet): Parameter[] {
  return Object.entries(rules.parameters).map(([name, r]) => ({
    name,
    type: r.type,
    min: r.min === undefined ? '' : `${r.min}${r.unit ?? ''}`,
    max: r.max === undefined ? '' : `${r.max}${r.unit ?? ''}`,
    dynamic: r.dynamic,
    allowedValues: [...(r.allowed ?? [])],
    description: r.description ?? '',
  }));
}
