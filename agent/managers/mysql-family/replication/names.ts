// The replication account a replica uses on its source: one per replica,
// named from its instance id so that a re-point or a retry finds it again
// (docs/replication.md): coffer_repl_ and the first 16 hex digits of the
// UUID, 28 characters, within MySQL's 32.
import { invalid } from '../../../errors.js';
import { REPLICATION_USER_PREFIX } from '../flavor.js';
import { checkPassword } from '../names.js';

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export function replicationUser(replicaId: string): string {
  if (!UUID.test(replicaId)) {
    throw invalid(`replica id ${JSON.stringify(replicaId.slice(0, 80))} is not an instance id (a UUID such as 0b6c9a6e-3f1d-4c3a-9a57-2f4d1e0c8b11)`);
  }
  return REPLICATION_USER_PREFIX + replicaId.replace(/-/g, '').toLowerCase().slice(0, 16);
}

/** The user name a SourceInfo names must be one of ours: nothing else is sent to CHANGE MASTER. */
export function checkReplicationUser(user: string): void {
  if (!new RegExp(`^${REPLICATION_USER_PREFIX}[0-9a-f]{16}$`).test(user)) {
    throw invalid(`replication user ${JSON.stringify(user.slice(0, 80))} is not a replication account (${REPLICATION_USER_PREFIX} and 16 hex digits)`);
  }
}

export function checkReplicationPassword(password: string): void {
  checkPassword(password, 'replication password');
}
