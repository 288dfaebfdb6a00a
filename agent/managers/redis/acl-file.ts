// The ACL file the server first starts with: the agent's admin and a
// disabled default user. Written before the first start, so there is never a
// moment when the server accepts a client without a password (Redis's own
// default user is "on nopass +@all"). Later changes go through ACL SETUSER
// and ACL SAVE; this file is not rendered again.
import { ADMIN_USER } from './names.js';
import { passwordHash } from './acl-rules.js';

export function initialAclFile(adminSecret: string): string {
  return [
    `user ${ADMIN_USER} on #${passwordHash(adminSecret)} ~* &* +@all`,
    // Root (the default user) stays off until EnableRoot or Prepare's root password.
    'user default off resetpass resetkeys resetchannels -@all',
  ].join('\n') + '\n';
}
