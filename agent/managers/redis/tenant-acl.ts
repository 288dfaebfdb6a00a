// The tenant's ACL users as ACL-file lines: what a backup carries so that a
// restored instance (and a replica built from a snapshot) has the source's
// users, the way MariaDB's and PostgreSQL's grant tables travel in their
// data. Only digests travel: ACL LIST prints passwords as `#<sha256>`, as
// users.acl stores them.
//
// Only tenant users: the agent's own accounts (coffer_admin, the replicas'
// coffer-replication, and `default`, which is root and stays as the
// restoring instance has it) are neither written nor restored; the
// restoring instance keeps its own, and their secrets.
//
// The lines come from a backup, so they are checked as strictly as an API
// call's rules before anything reaches Redis: a user name of the API's
// grammar, and rules from a closed list of what the agent itself creates
// (no nopass, no clear password, no selector, no reset). Every restored
// user gets the agent's `-@admin` suffix again, last, so a line can never
// hand a tenant the commands that would take the instance from the agent.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import type { Logger } from '../../../lib/logger.js';
import { AgentError } from '../../errors.js';
import type { AdminClient } from './admin-client.js';
import { isTenantRule, USER_SUFFIX } from './acl-rules.js';
import { checkUserName, RESERVED_USERS } from './names.js';

export interface TenantAclUser {
  readonly name: string;
  /** The rules as ACL LIST prints them, one token each (without the name). */
  readonly rules: readonly string[];
}

/** At most this many bytes of ACL lines are accepted from a backup. */
export const MAX_TENANT_ACL_BYTES = 64 * 1024 * 1024;

export const isTenantUser = (name: string): boolean => !RESERVED_USERS.includes(name.toLowerCase());

/** The tenant users of the running server, as ACL-file lines (ACL LIST). */
export async function readTenantAcl(client: AdminClient): Promise<string> {
  const lines = ((await client.call('ACL', 'LIST')) as unknown[]).map(String);
  const tenant = lines.filter((l) => {
    const name = l.split(' ')[1] ?? '';
    return l.startsWith('user ') && isTenantUser(name);
  });
  return tenant.map((l) => `${l}\n`).join('');
}

const damaged = (message: string): AgentError => new AgentError('AGENT_ERR_INTEGRITY', `the backup's ACL users cannot be restored: ${message}`);

/** Parses and checks ACL lines from a backup. Never echoes a rule (it may be a password). */
export function parseTenantAcl(text: string): TenantAclUser[] {
  const users: TenantAclUser[] = [];
  const seen = new Set<string>();
  text.split('\n').forEach((line, i) => {
    if (line === '') return;
    const [word, name = '', ...rules] = line.split(' ');
    if (word !== 'user') throw damaged(`line ${i + 1} is not a user line`);
    try {
      checkUserName(name);
    } catch (err) {
      throw damaged(`line ${i + 1}: ${(err as Error).message}`);
    }
    if (seen.has(name)) throw damaged(`user ${name} is listed twice`);
    seen.add(name);
    rules.forEach((rule, j) => {
      if (!isTenantRule(rule)) throw damaged(`rule ${j + 1} of user ${name} is not one the agent gives a user`);
    });
    users.push({ name, rules });
  });
  return users;
}

/**
 * Makes the server's tenant users exactly `users` (the ones it has beyond
 * them are deleted, which also ends their sessions); the agent's own
 * accounts are not touched. One MULTI, then ACL SAVE; if anything fails the
 * server goes back to its ACL file (ACL LOAD) and the error is thrown.
 */
export async function replaceTenantUsers(client: Pick<AdminClient, 'call' | 'transaction'>, users: readonly TenantAclUser[]): Promise<void> {
  const wanted = new Set(users.map((u) => u.name));
  const current = ((await client.call('ACL', 'USERS')) as unknown[]).map(String).filter(isTenantUser);
  const commands: string[][] = [
    ...current.filter((n) => !wanted.has(n)).map((n) => ['ACL', 'DELUSER', n]),
    ...users.map((u) => ['ACL', 'SETUSER', u.name, 'reset', ...u.rules, ...USER_SUFFIX]),
  ];
  try {
    if (commands.length) await client.transaction(commands);
    await client.call('ACL', 'SAVE');
  } catch (err) {
    await client.call('ACL', 'LOAD').catch(() => undefined);
    throw new AgentError('AGENT_ERR_DATASTORE', `the backup's users could not be restored, the instance's were kept: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * After a restore, on the server running on the restored data: applies the
 * users a backup left in `file` (nothing when it carried none: an older,
 * RDB-only backup keeps the instance's users), then removes the file.
 */
export async function restoreTenantUsers(client: AdminClient, file: string, log: Logger): Promise<void> {
  if (!existsSync(file)) return;
  const users = parseTenantAcl(readFileSync(file, 'utf8'));
  await replaceTenantUsers(client, users);
  rmSync(file, { force: true });
  log.info({ users: users.length }, "the backup's tenant users were restored");
}
