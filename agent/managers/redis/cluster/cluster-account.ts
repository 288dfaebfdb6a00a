// The agents' cluster account: one user, with the secret the control gives
// in InstallCluster (`secrets.cluster`), the same on every member. The agent
// that forms, rebalances or leaves the cluster reaches the other members'
// nodes with it over their client port (peer-client.ts), and MIGRATE
// authenticates with it on the target (AUTH2). The agent's own coffer_admin
// stays per node, on the unix socket, as every instance's. A reserved name:
// no API call shows or touches it, and backups do not carry it.
import type { AdminClient } from '../admin-client.js';
import { passwordHash } from '../acl-rules.js';
import { CLUSTER_USER } from '../names.js';

/** Creates the account or gives it the secret; then ACL SAVE, so a restart keeps it. */
export async function ensureClusterAccount(client: AdminClient, secret: string): Promise<void> {
  await client.call('ACL', 'SETUSER', CLUSTER_USER, 'reset', 'on', `#${passwordHash(secret)}`, '~*', '&*', '+@all');
  await client.call('ACL', 'SAVE');
}
