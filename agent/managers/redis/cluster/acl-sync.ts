// Tenant users and root the same on every member: a client that follows a
// MOVED or ASK redirection authenticates on the next node with the same
// credential. The control applies account calls to every member; when a
// member joins (a new cluster formed, a grow) it takes the accounts of a
// member already in the cluster, as ACL LIST shows them (digests only, no
// password travels), checked as strictly as a backup's (tenant-acl.ts).
import type { Logger } from '../../../../lib/logger.js';
import { isTenantUser, parseTenantAcl, replaceTenantUsers } from '../tenant-acl.js';
import type { Peer } from './peer-client.js';

const ROOT = 'default';

async function accountLines(p: Peer): Promise<{ tenant: string; root: string }> {
  const lines = ((await p.call('ACL', 'LIST')) as unknown[]).map(String).sort();
  const name = (l: string): string => l.split(' ')[1] ?? '';
  return {
    tenant: lines.filter((l) => l.startsWith('user ') && isTenantUser(name(l))).map((l) => `${l}\n`).join(''),
    root: lines.find((l) => name(l) === ROOT) ?? '',
  };
}

/** Makes every node of `to` hold `from`'s tenant users and root; returns how many nodes changed. */
export async function copyAccounts(from: Peer, to: readonly Peer[], log: Logger): Promise<number> {
  const want = await accountLines(from);
  const users = parseTenantAcl(want.tenant);
  const rootRules = want.root.split(' ').slice(2);
  let changed = 0;
  for (const p of to) {
    if (p === from) continue;
    const have = await accountLines(p);
    if (have.tenant === want.tenant && have.root === want.root) continue;
    await replaceTenantUsers(p, users);
    if (rootRules.length && have.root !== want.root) {
      await p.call('ACL', 'SETUSER', ROOT, 'reset', ...rootRules);
      await p.call('ACL', 'SAVE');
    }
    changed++;
  }
  if (changed) log.info({ nodes: changed, users: users.length }, "the cluster's accounts were copied to its new members");
  return changed;
}
