// What makes a fresh cluster fit for tenants, applied after initdb (Prepare)
// and to a cluster rebuilt by a logical restore. initdb already leaves no
// password-less network access (pg_hba.conf is the agent's) and, in
// PostgreSQL 15, no CREATE on the public schema for PUBLIC. What remains is
// PostgreSQL's default CONNECT for PUBLIC on the server's own databases:
// tenants' users have no business in them.
import type { Query } from './pg-client.js';

export async function secureCluster(q: Query): Promise<void> {
  await q('REVOKE ALL ON DATABASE postgres FROM PUBLIC');
  await q('REVOKE ALL ON DATABASE template1 FROM PUBLIC');
}
