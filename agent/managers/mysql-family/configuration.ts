// What configuration means for the MySQL family (the capability itself is
// ../configuration/capability.ts): dynamic parameters (rule.dynamic) are
// applied live with SET GLOBAL, or SET GLOBAL ... = DEFAULT when an override
// goes; the rest wait for a restart. Taking a change back sets the values
// the server had before.
import type { ConfigurationApplier, LiveChange } from '../configuration/capability.js';
import { ruleOf, type RuleSet } from '../../../strategies/configuration/rules.js';
import { escape, type SqlClient } from './sql-client.js';

export function mysqlApplier(
  sql: SqlClient,
  rules: RuleSet,
  /** Renders and writes the option file for these overrides. */
  writeConfig: (overrides: Readonly<Record<string, string>>) => Promise<void>,
): ConfigurationApplier {
  // Names come from the rules table (plain identifiers, loadRules checks).
  // Numbers and ON/OFF are validated tokens; strings are quoted literals.
  const literal = (name: string, value: string): string => (ruleOf(rules, name)!.type === 'string' ? escape(value) : value);
  const setGlobal = (name: string, value: string | undefined) => sql.query(`SET GLOBAL ${name} = ${value === undefined ? 'DEFAULT' : literal(name, value)}`);

  const current = async (names: readonly string[]): Promise<Record<string, string>> => {
    if (!names.length) return {};
    const rows = await sql.query('SELECT VARIABLE_NAME AS n, VARIABLE_VALUE AS v FROM information_schema.GLOBAL_VARIABLES WHERE VARIABLE_NAME IN (?)', [
      names.map((n) => n.toUpperCase()),
    ]);
    const out: Record<string, string> = {};
    for (const r of rows) out[String(r.n).toLowerCase()] = String(r.v);
    return out;
  };

  return {
    current,
    writeConfig,
    async applyLive(changes: readonly LiveChange[]) {
      const live = changes.filter((c) => ruleOf(rules, c.name)!.dynamic);
      if (!live.length) return async () => undefined;
      const before = await current(live.map((c) => c.name));
      const done: string[] = [];
      // Every one is tried; the first failure is reported.
      const putBack = async (): Promise<void> => {
        let first: unknown;
        for (const name of done) {
          const old = before[name];
          if (old !== undefined) await setGlobal(name, old).catch((err: unknown) => (first ??= err));
        }
        if (first) throw first;
      };
      try {
        for (const c of live) {
          await setGlobal(c.name, c.value);
          done.push(c.name);
        }
      } catch (err) {
        await putBack().catch(() => undefined);
        throw err;
      }
      return putBack;
    },
  };
}
