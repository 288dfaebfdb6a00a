// The source's side of a replica's access: the deployment's replication
// role and one physical slot per replica.
//
// The role streams WAL (REPLICATION) and is pg_rewind's account on a new
// source when an old primary is demoted. pg_rewind does not need a
// superuser: EXECUTE on the four functions it reads the source's files with
// (https://www.postgresql.org/docs/15/app-pgrewind.html) and CONNECT on the
// postgres database. That gives nothing REPLICATION did not already give
// (a base backup streams every file as well); pg_hba.conf admits the role
// over TLS only, to replication and to the postgres database only.
//
// The password arrives as a SCRAM verifier computed in the agent (scram.ts),
// so the plaintext never reaches the server, its log or pg_stat_activity.
// Role and grants are in the catalog, so they reach every replica with the
// WAL: a promoted replica has them already. Slots are not replicated, which
// is why a new source is given its replicas' access again.
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentError } from '../../../errors.js';
import { REPLICATION_ROLE } from '../constants.js';
import { quoteId, quoteLiteral, type PgClient, type Query } from '../pg-client.js';
import { scramVerifier } from '../scram.js';

const REWIND_FUNCTIONS = [
  'pg_catalog.pg_ls_dir(text, boolean, boolean)',
  'pg_catalog.pg_stat_file(text, boolean)',
  'pg_catalog.pg_read_binary_file(text)',
  'pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)',
];

export async function ensureReplicationRole(sql: PgClient, password: string): Promise<void> {
  const role = quoteId(REPLICATION_ROLE);
  const attrs = `NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT REPLICATION LOGIN PASSWORD ${quoteLiteral(scramVerifier(password))}`;
  await sql.transaction(async (q: Query) => {
    // Serialises two calls that would both try to create the role.
    await q("SELECT pg_advisory_xact_lock(hashtext('coffer_replication_role'))");
    const exists = (await q('SELECT 1 FROM pg_roles WHERE rolname = $1', [REPLICATION_ROLE])).length > 0;
    await q(`${exists ? 'ALTER' : 'CREATE'} ROLE ${role} WITH ${attrs}`);
    await q(`GRANT CONNECT ON DATABASE postgres TO ${role}`);
    for (const fn of REWIND_FUNCTIONS) await q(`GRANT EXECUTE ON FUNCTION ${fn} TO ${role}`);
  });
}

/**
 * A replica's slot, reserving WAL from now on (immediately_reserve): made
 * before the snapshot backup starts, so every byte the replica will need
 * after the backup is kept until it has streamed it.
 */
export async function ensureSlot(sql: PgClient, slot: string): Promise<void> {
  const rows = await sql.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot]);
  if (rows.length) return;
  try {
    await sql.query('SELECT pg_create_physical_replication_slot($1, true)', [slot]);
  } catch (err) {
    // Made meanwhile by a call that raced this one.
    if ((err as AgentError).code !== 'AGENT_ERR_ALREADY_EXISTS') throw err;
  }
}

/** Drops a slot; a replica streaming from it is disconnected first. Absent is fine. */
export async function dropSlot(sql: PgClient, slot: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await sql.query('SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1', [slot]);
    if (rows.length === 0) return;
    const pid = rows[0]!.active_pid;
    try {
      if (pid !== null && pid !== undefined) {
        await sql.query('SELECT pg_terminate_backend($1)', [pid]);
      } else {
        await sql.query('SELECT pg_drop_replication_slot($1)', [slot]);
        return;
      }
    } catch (err) {
      // Dropped meanwhile (42704), or in use again (55006): look again.
      const code = (err as AgentError).code;
      if (code !== 'AGENT_ERR_NOT_FOUND' && code !== 'AGENT_ERR_NOT_READY') throw err;
    }
    if (Date.now() > deadline) throw new AgentError('AGENT_ERR_TIMEOUT', `replication slot ${slot} stayed in use`);
    await sleep(100);
  }
}
