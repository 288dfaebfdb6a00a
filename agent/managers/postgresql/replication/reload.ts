// A configuration reload the agent can wait for. pg_reload_conf() only
// signals the postmaster; a session started afterwards that sees the
// settings id just rendered (settings.ts) proves the postmaster has read
// replication.conf, and pg_hba.conf with it (both are re-read on the same
// SIGHUP, before any later connection is forked).
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentError } from '../../../errors.js';
import type { PgClient } from '../pg-client.js';

export async function reloadAndWait(sql: PgClient, settingsId: string, timeoutMs = 30_000): Promise<void> {
  await sql.query('SELECT pg_reload_conf()');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await sql.session('postgres', (q) => q("SELECT current_setting('coffer.settings_id', true) AS id"));
    if (rows[0]?.id === settingsId) return;
    if (Date.now() > deadline) throw new AgentError('AGENT_ERR_TIMEOUT', 'the datastore did not take its new replication settings (pg_reload_conf) in time');
    await sleep(100);
  }
}
