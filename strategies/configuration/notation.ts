// How a datastore spells booleans and numbers, named by its rules file:
//   "notation": { "booleans": ["ON", "OFF"], "integers": "size-suffixes" }
// Booleans: every datastore accepts on/off, true/false, yes/no, 1/0 from a
// user and is given its own spelling (MySQL ON/OFF, PostgreSQL on/off,
// Redis yes/no). Integers: "size-suffixes" (MySQL, Redis) takes an optional
// K, M or G (powers of 1024) and normalises to a plain count; "units"
// (PostgreSQL) keeps a unit of the parameter's kind (kB, MB, ms, s...) as
// written, in PostgreSQL's own spelling, and checks bounds in the base unit.
import { ParameterError } from './parameter-error.js';
import type { ParameterRule } from './rules.js';

export interface Notation {
  /** The datastore's spelling of true and false. */
  readonly booleans: readonly [string, string];
  readonly integers: 'size-suffixes' | 'units';
}

const TRUE = ['on', 'true', 'yes', '1'];
const FALSE = ['off', 'false', 'no', '0'];

const SUFFIXED = /^(-?\d{1,19})([KMG]?)$/i;
const SUFFIX: Readonly<Record<string, number>> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

const WITH_UNIT = /^(-?\d{1,19})\s*([A-Za-z]*)$/;
// Units PostgreSQL accepts, with their size in the base unit of their kind
// (kB for memory, ms for time).
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

const FLOAT = /^-?\d{1,30}(\.\d{1,30})?([eE][-+]?\d{1,3})?$/;

/** What is wrong with a rules file's notation, or '' if nothing. */
export function checkNotation(n: Notation | undefined): string {
  if (!n || typeof n !== 'object') return 'needs a notation';
  if (!Array.isArray(n.booleans) || n.booleans.length !== 2 || !n.booleans.every((b) => typeof b === 'string' && /^[A-Za-z]+$/.test(b))) {
    return 'notation.booleans must be the spelling of true and false';
  }
  if (n.integers !== 'size-suffixes' && n.integers !== 'units') return `notation.integers ${String(n.integers)} is unknown`;
  return '';
}

/** A base unit the "units" notation knows. */
export const unitOf = (unit: string): boolean => Object.hasOwn(BASE, unit);

/** The count (in the parameter's base unit, for the bounds) and the text to persist. */
export function normalizeInteger(notation: Notation, rule: ParameterRule, name: string, v: string, shown: string): { count: number; text: string } {
  if (notation.integers === 'size-suffixes') {
    const m = SUFFIXED.exec(v);
    if (!m || (m[2] && m[1]!.startsWith('-'))) throw new ParameterError(name, `${name} must be an integer (K, M or G suffix allowed), got ${shown}`);
    const n = Number(m[1]) * SUFFIX[m[2]!.toUpperCase()]!;
    if (!Number.isSafeInteger(n)) throw new ParameterError(name, `${name} is too large: ${shown}`);
    return { count: n, text: String(n) };
  }
  const m = WITH_UNIT.exec(v);
  if (!m) throw new ParameterError(name, `${name} must be an integer${rule.unit ? ' with an optional unit' : ''}, got ${shown}`);
  const n = Number(m[1]);
  const given = m[2]!;
  if (!given) return { count: n, text: String(n) };
  const base = rule.unit ? BASE[rule.unit] : undefined;
  const hit = base && Object.keys(base.table).find((u) => u.toLowerCase() === given.toLowerCase());
  if (!base || !hit) {
    const units = base ? Object.keys(base.table).join(', ') : 'none';
    throw new ParameterError(name, `${name} does not take the unit ${JSON.stringify(given)}; units allowed: ${units}`);
  }
  // PostgreSQL rounds to the base unit; so do the bounds checks.
  return { count: Math.round((n * base.table[hit]!) / base.size), text: `${n}${hit}` };
}

export function normalizeFloat(name: string, v: string, shown: string): string {
  if (!FLOAT.test(v) || !Number.isFinite(Number(v))) throw new ParameterError(name, `${name} must be a number, got ${shown}`);
  return v;
}

export function normalizeBoolean(notation: Notation, name: string, v: string, shown: string): string {
  const l = v.toLowerCase();
  const [yes, no] = notation.booleans;
  if (TRUE.includes(l)) return yes!;
  if (FALSE.includes(l)) return no!;
  throw new ParameterError(name, `${name} must be ${yes} or ${no}, got ${shown}`);
}
