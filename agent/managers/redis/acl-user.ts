// One ACL user as the server describes it (ACL GETUSER), and the rules that
// recreate it (used by rename, which Redis does not have).
import type { AdminClient } from './admin-client.js';

export interface AclUser {
  readonly name: string;
  readonly enabled: boolean;
  /** SHA-256 hex digests. */
  readonly passwordHashes: readonly string[];
  /** Key patterns, channel patterns, then command rules, as Redis reports them (canonical, compacted). */
  readonly rules: readonly string[];
}

/** ACL GETUSER, or null if there is no such user. */
export async function getAclUser(client: AdminClient, name: string): Promise<AclUser | null> {
  const reply = await client.call('ACL', 'GETUSER', name);
  if (reply === null || !Array.isArray(reply)) return null;
  const fields = new Map<string, unknown>();
  for (let i = 0; i + 1 < reply.length; i += 2) fields.set(String(reply[i]), reply[i + 1]);
  const words = (key: string): string[] => String(fields.get(key) ?? '').split(' ').filter(Boolean);
  const list = (key: string): string[] => (Array.isArray(fields.get(key)) ? (fields.get(key) as unknown[]).map(String) : []);
  return {
    name,
    enabled: list('flags').includes('on'),
    passwordHashes: list('passwords'),
    rules: [...words('keys'), ...words('channels'), ...words('commands')],
  };
}

/** ACL SETUSER arguments that give a new user exactly this user's state. */
export function recreateRules(user: AclUser, passwordHashes: readonly string[] = user.passwordHashes): string[] {
  return ['reset', user.enabled ? 'on' : 'off', ...passwordHashes.map((h) => `#${h}`), ...user.rules];
}
