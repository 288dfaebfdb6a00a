// Validation of user names, hosts and passwords before anything is sent to
// the server. Redis users have no host: '' and '%' (what Trove clients send
// by default) both mean "any", anything else is refused.
import { invalid } from '../../errors.js';

/** The agent's own account. */
export const ADMIN_USER = 'coffer_admin';
/** Replicas' account on a source (replication/replication-user.ts): psync, replconf and ping only. */
export const REPLICATION_USER = 'coffer-replication';
/** The agents' account on every member of a Redis Cluster (cluster/cluster-account.ts). */
export const CLUSTER_USER = 'coffer-cluster';
/**
 * Accounts no API call may touch: the agent's, Redis's `default` (that is
 * root, managed by EnableRoot/DisableRoot), `root` itself so that nobody
 * mistakes an ordinary user for the root account, the replicas' and the
 * cluster's.
 */
export const RESERVED_USERS: readonly string[] = ['default', ADMIN_USER, 'root', REPLICATION_USER, CLUSTER_USER];

// ACL user names end up as one token of an ACL file line: no spaces, no
// control characters, nothing Redis's ACL file parser treats specially.
const USER_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
export const MAX_USER_NAME = 64;
// Passwords never reach Redis in clear (the agent sends their SHA-256, see
// acl-rules.ts), but they reach clients' AUTH commands and tools' env vars:
// printable ASCII keeps them typeable and free of line breaks.
const PASSWORD = /^[\x20-\x7e]+$/;
export const MAX_PASSWORD = 128;

export function show(value: string): string {
  return JSON.stringify(value.length > 80 ? value.slice(0, 80) + '…' : value);
}

export function checkUserName(name: string): void {
  if (!name) throw invalid('user name is empty');
  if (name.length > MAX_USER_NAME) throw invalid(`user name ${show(name)} is longer than ${MAX_USER_NAME} characters`);
  if (!USER_NAME.test(name)) {
    throw invalid(`user name ${show(name)} may hold only letters, digits, "_", "." and "-", and must start with a letter, digit or "_"`);
  }
  if (RESERVED_USERS.includes(name.toLowerCase())) throw invalid(`user name ${show(name)} is reserved`);
}

/** Redis users have no host part. */
export function checkHost(host: string): void {
  if (host !== '' && host !== '%') throw invalid(`redis users have no host; give "" or "%", not ${show(host)}`);
}

export function checkPassword(password: string, what = 'password'): void {
  if (!password) throw invalid(`${what} is empty`);
  if (password.length > MAX_PASSWORD) throw invalid(`${what} is longer than ${MAX_PASSWORD} characters`);
  if (!PASSWORD.test(password)) throw invalid(`${what} may hold only printable ASCII characters`);
}
