// The replicas' account on a source: one ACL user per deployment,
// `coffer-replication`, allowed only what a replica's link needs (PSYNC,
// REPLCONF, PING) and no key or channel. Its secret comes from the control
// and reaches Redis only as its SHA-256 digest over the admin socket. ACLs
// are not replicated, so every member of a set gets the user (a replica may
// become a source later).
import type { AdminClient } from '../admin-client.js';
import { passwordHash } from '../acl-rules.js';
import { REPLICATION_USER } from '../names.js';

export const REPLICATION_RULES: readonly string[] = ['resetkeys', 'resetchannels', '-@all', '+psync', '+replconf', '+ping'];

/** Creates the user or adds these secrets to it (existing replicas keep theirs); then ACL SAVE. */
export async function ensureReplicationUser(client: AdminClient, passwords: readonly string[]): Promise<void> {
  const hashes = [...new Set(passwords)].map((p) => `#${passwordHash(p)}`);
  await client.call('ACL', 'SETUSER', REPLICATION_USER, 'on', ...hashes, ...REPLICATION_RULES);
  await client.call('ACL', 'SAVE');
}
