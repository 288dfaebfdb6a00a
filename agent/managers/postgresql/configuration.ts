// What configuration means for PostgreSQL (the capability itself is
// ../configuration/capability.ts): every change goes through ALTER SYSTEM
// (postgresql.auto.conf, in the data directory), which checks the value;
// the agent's rendered postgresql.conf carries the overrides too, so a fresh
// data directory (after a restore) gets them. pg_reload_conf() brings them
// into force once persisted. Whether a change waits for a restart is the
// server's own answer: pg_settings.context "postmaster".
import type { ConfigurationApplier, LiveChange } from '../configuration/capability.js';
import { quoteLiteral, type PgClient } from './pg-client.js';

export function pgApplier(
  sql: PgClient,
  /** Renders and writes postgresql.conf for these overrides. */
  writeConfig: (overrides: Readonly<Record<string, string>>) => Promise<void>,
): ConfigurationApplier {
  // Names come from the rules table (plain identifiers, loadRules checks);
  // values are quoted literals. ALTER SYSTEM takes no bind parameters.
  const alter = (name: string, value: string | undefined): Promise<unknown> =>
    sql.query(value === undefined ? `ALTER SYSTEM RESET ${name}` : `ALTER SYSTEM SET ${name} = ${quoteLiteral(value)}`);

  return {
    writeConfig,
    async current(names) {
      const rows = await sql.query('SELECT name, current_setting(name) AS value FROM pg_settings WHERE name = ANY($1::text[])', [names]);
      return Object.fromEntries(rows.map((r) => [String(r.name), String(r.value)]));
    },
    async restartRequired(names) {
      const rows = await sql.query('SELECT name, context FROM pg_settings WHERE name = ANY($1::text[])', [names]);
      const contexts = new Map(rows.map((r) => [String(r.name), String(r.context)]));
      return new Set(names.filter((n) => (contexts.get(n) ?? 'postmaster') === 'postmaster'));
    },
    async applyLive(changes: readonly LiveChange[]) {
      const done: LiveChange[] = [];
      // Every one is tried; the first failure is reported.
      const putBack = async (): Promise<void> => {
        let first: unknown;
        for (const c of done) await alter(c.name, c.previous).catch((err: unknown) => (first ??= err));
        if (first) throw first;
      };
      try {
        for (const c of changes) {
          await alter(c.name, c.value);
          done.push(c);
        }
      } catch (err) {
        await putBack().catch(() => undefined);
        throw err;
      }
      return putBack;
    },
    async afterPersist() {
      await sql.query('SELECT pg_reload_conf()');
    },
  };
}
