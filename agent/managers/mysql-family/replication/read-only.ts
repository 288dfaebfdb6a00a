// Refusing writes from every client, the superuser included.
//
// read_only = ON refuses writes to every account without READ_ONLY ADMIN
// (MariaDB 10.5.2 split it out of SUPER; in 10.11 SUPER alone no longer
// lets a session write through read_only: MDEV-29596, checked by the
// replication tests), while the replication applier and the agent's own
// account keep writing. ALL PRIVILEGES includes READ_ONLY ADMIN, so:
//   - Coffer never leaves it on an account it makes for clients (ENABLE
//     ROOT revokes it right after its GRANT ALL, accounts.ts, so replicas
//     never receive it either);
//   - going read-only sweeps every other account and role that holds it
//     (granted directly, or by a client who rewrote the grant tables) and
//     revokes it, with sql_log_bin = 0: a local fence, not a transaction
//     for replicas.
// Oracle MySQL has super_read_only for the same purpose (dialect.ts).
//
// The state is kept in a marker file under the agent's dir, which the
// option file renderer reads (manager.ts): a restart starts read-only
// before any client can connect.
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../../../lib/logger.js';
import { ADMIN_USER } from '../flavor.js';
import { account, escapeId, type SqlClient } from '../sql-client.js';

export const READ_ONLY_ADMIN = 'READ_ONLY ADMIN';

/** Accounts of the server's own OS users over the socket (unix_socket), and the agent's: never clients. */
const LOCAL_SYSTEM = new Set([`${ADMIN_USER}@localhost`, 'root@localhost', 'mysql@localhost', 'mariadb.sys@localhost']);

export const readOnlyMarker = (agentDir: string): string => path.join(agentDir, 'read-only');

export function isMarkedReadOnly(agentDir: string): boolean {
  return existsSync(readOnlyMarker(agentDir));
}

export function markReadOnly(agentDir: string, readOnly: boolean): void {
  const file = readOnlyMarker(agentDir);
  if (readOnly) writeFileSync(file, 'read_only = ON\n', { mode: 0o600 });
  else rmSync(file, { force: true });
}

/**
 * Revokes READ_ONLY ADMIN from every account and role but the agent's and
 * the socket-only system accounts, without writing to the binary log.
 * Returns the accounts it was taken from.
 */
export async function revokeReadOnlyAdmin(sql: SqlClient, log: Logger): Promise<string[]> {
  return sql.withConnection(async (q) => {
    await q('SET SESSION sql_log_bin = 0');
    try {
      const taken: string[] = [];
      const rows = await q(`SELECT User AS u, Host AS h, is_role AS r FROM mysql.user`);
      for (const row of rows) {
        const name = String(row.u);
        const host = String(row.h);
        const isRole = String(row.r) === 'Y';
        if (name === '' || LOCAL_SYSTEM.has(`${name}@${host}`)) continue;
        const who = isRole ? escapeId(name) : account(name, host);
        const grants = (await q(`SHOW GRANTS FOR ${who}`)).map((g) => String(Object.values(g)[0] ?? ''));
        const global = grants.filter((g) => / ON \*\.\* TO /.test(g));
        if (!global.some((g) => /^GRANT (ALL PRIVILEGES|.*\bREAD_ONLY ADMIN\b)/.test(g))) continue;
        await q(`REVOKE ${READ_ONLY_ADMIN} ON *.* FROM ${who}`);
        taken.push(isRole ? name : `${name}@${host}`);
      }
      if (taken.length) log.warn({ accounts: taken }, 'read-only: took READ_ONLY ADMIN from accounts that could write through read_only');
      return taken;
    } finally {
      await q('SET SESSION sql_log_bin = 1');
    }
  });
}
