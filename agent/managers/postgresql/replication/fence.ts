// The write fence of a primary that may no longer be the source
// (docs/replication.md, "Roles and fencing"). default_transaction_read_only
// would not hold: any session, a tenant's superuser first, may SET it back.
// So a fenced instance serves no client at all but the agent (peer, over
// the socket) and its replicas (the replication role, which cannot write):
// pg_hba.conf's fenced form (conf.ts) refuses new connections, and the
// sessions already open are ended once the server has read it. The agent's
// own sessions get default_transaction_read_only as a guard against its own
// slips (it never SETs it back). Persisted in the replication state, so a
// start (the agent's boot, a restart) comes up fenced before any client.
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentError } from '../../../errors.js';
import { ADMIN_ROLE, REPLICATION_ROLE } from '../constants.js';
import type { PgClient } from '../pg-client.js';

/** Ends every client session but the agent's and the replicas' own; resolves once they are gone. */
export async function endClientSessions(sql: PgClient, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await sql.query(
      `SELECT pid, pg_terminate_backend(pid) AS ended FROM pg_stat_activity
        WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
          AND usename IS DISTINCT FROM $1 AND usename IS DISTINCT FROM $2`,
      [ADMIN_ROLE, REPLICATION_ROLE],
    );
    if (rows.length === 0) return;
    if (Date.now() > deadline) throw new AgentError('AGENT_ERR_TIMEOUT', `${rows.length} client session(s) did not end when the instance was fenced`);
    await sleep(100);
  }
}
