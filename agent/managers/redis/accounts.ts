// ACL users for Redis, and root (= the `default` user). Every input is
// checked against names.ts and the rule grammar (acl-rules.ts) before the
// first command is sent; every change is persisted with ACL SAVE, and an
// ACL SAVE that fails is undone in memory (ACL LOAD) so the running server
// never disagrees with the file it will start from next time.
//
// Redis has no databases in Trove's sense (numbered databases are not
// access-controlled); keyspace access is what ACL key patterns give. The
// database and access methods answer UNIMPLEMENTED naming that.
import type { AccountsCapability } from '../manager.js';
import type { Database, User, Page } from '../../../proto/gen/coffer/agent/v1/common.js';
import { AgentError, invalid, notFound, unimplemented } from '../../errors.js';
import type { AdminClient } from './admin-client.js';
import { checkRules, passwordHash, rootRules, ROOT_OFF, USER_SUFFIX } from './acl-rules.js';
import { getAclUser, recreateRules, type AclUser } from './acl-user.js';
import { checkHost, checkPassword, checkUserName, RESERVED_USERS } from './names.js';
import { generatePassword } from './secret.js';
import { validateEach } from '../prepare-validation.js';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;
export const DATASTORE = 'redis';

function pageLimit(page: Page | undefined): number {
  const limit = page?.limit ?? 0;
  if (limit < 0) throw invalid(`limit must be positive, got ${limit}`);
  if (limit > MAX_LIMIT) throw invalid(`limit must be at most ${MAX_LIMIT}, got ${limit}`);
  return limit === 0 ? DEFAULT_LIMIT : limit;
}

// The capability named first (as unimplemented() does), then what to do instead.
export const noDatabases = (): AgentError =>
  new AgentError('AGENT_ERR_UNIMPLEMENTED', `${unimplemented('databases', DATASTORE).message}: Redis has no databases in Trove's sense; give users ACL key patterns (rules) instead`);
const noAccess = (): AgentError =>
  new AgentError('AGENT_ERR_UNIMPLEMENTED', `${unimplemented('database access', DATASTORE).message}: a Redis user's access is its ACL rules`);

function toUser(u: AclUser): User {
  return { name: u.name, host: '', password: '', databases: [], rules: [...u.rules] };
}

export class RedisAccounts implements AccountsCapability {
  constructor(
    private readonly client: AdminClient,
    /** The version's ACL categories (rules file). */
    private readonly categories: readonly string[],
  ) {}

  validateDatabase(_db: Database): void {
    throw noDatabases();
  }

  validateUser(user: User): void {
    checkUserName(user.name);
    checkHost(user.host);
    checkPassword(user.password, `password of user ${user.name}`);
    if (user.databases.length) throw noAccess();
    checkRules(user.rules, this.categories, user.name);
  }

  async listDatabases(_page: Page): Promise<{ databases: Database[]; nextMarker: string }> {
    throw noDatabases();
  }

  async createDatabases(_databases: readonly Database[]): Promise<void> {
    throw noDatabases();
  }

  async deleteDatabase(_name: string): Promise<void> {
    throw noDatabases();
  }

  async grantAccess(_name: string, _host: string, _databases: readonly string[]): Promise<void> {
    throw noAccess();
  }

  async revokeAccess(_name: string, _host: string, _database: string): Promise<void> {
    throw noAccess();
  }

  async listAccess(_name: string, _host: string): Promise<Database[]> {
    throw noAccess();
  }

  /** Persists the ACLs; on failure puts the server back to what the file holds. */
  private async save(): Promise<void> {
    try {
      await this.client.call('ACL', 'SAVE');
    } catch (err) {
      await this.client.call('ACL', 'LOAD').catch(() => undefined);
      throw new AgentError('AGENT_ERR_DATASTORE', `the ACL change could not be saved and was undone: ${(err as Error).message}`, { cause: err });
    }
  }

  private async requireUser(name: string): Promise<AclUser> {
    const u = await getAclUser(this.client, name);
    if (!u) throw notFound(`user ${name} does not exist`);
    return u;
  }

  async listUsers(page: Page): Promise<{ users: User[]; nextMarker: string }> {
    const limit = pageLimit(page);
    const marker = page?.marker ?? '';
    const names = ((await this.client.call('ACL', 'USERS')) as unknown[])
      .map(String)
      .filter((n) => !RESERVED_USERS.includes(n.toLowerCase()))
      .sort()
      .filter((n) => !marker || (page?.includeMarker ? n >= marker : n > marker));
    const users: User[] = [];
    for (const name of names.slice(0, limit)) {
      const u = await getAclUser(this.client, name);
      if (u) users.push(toUser(u)); // deleted meanwhile: skipped
    }
    const last = users[users.length - 1];
    return { users, nextMarker: names.length > limit && last ? last.name : '' };
  }

  async getUser(name: string, host: string): Promise<User> {
    checkUserName(name);
    checkHost(host);
    return toUser(await this.requireUser(name));
  }

  async createUsers(users: readonly User[]): Promise<void> {
    if (users.length === 0) throw invalid('no users given');
    validateEach(users, (u) => this.validateUser(u), (u) => u.name, 'user');
    const plans = users.map((u) => ({ name: u.name, args: ['reset', 'on', `#${passwordHash(u.password)}`, ...checkRules(u.rules, this.categories, u.name), ...USER_SUFFIX] }));
    for (const p of plans) {
      if (await getAclUser(this.client, p.name)) throw new AgentError('AGENT_ERR_ALREADY_EXISTS', `user ${p.name} exists already`);
    }
    // ACL SETUSER is atomic per user in Redis 7 (a refused rule creates
    // nothing); a refusal part-way through the batch removes the ones made.
    const created: string[] = [];
    try {
      for (const p of plans) {
        await this.client.call('ACL', 'SETUSER', p.name, ...p.args);
        created.push(p.name);
      }
    } catch (err) {
      for (const name of created) await this.client.call('ACL', 'DELUSER', name).catch(() => undefined);
      throw err;
    }
    await this.save();
  }

  async deleteUser(name: string, host: string): Promise<void> {
    checkUserName(name);
    checkHost(host);
    await this.requireUser(name);
    // Redis also disconnects the user's open connections.
    await this.client.call('ACL', 'DELUSER', name);
    await this.save();
  }

  /**
   * Redis has no rename: the new user is created with the old one's state
   * (enabled flag, password digests, key/channel/command rules), then the old
   * one is deleted. At every moment one of the two names works; if the
   * delete fails the new user is removed again, so the end state is the old
   * user or the new one, never neither. The old user's connections are
   * closed by the delete. The host is not a Redis concept and cannot change.
   */
  async updateUserAttributes(name: string, host: string, change: { newName: string; newHost: string; newPassword: string }): Promise<void> {
    checkUserName(name);
    checkHost(host);
    if (change.newHost) checkHost(change.newHost);
    if (!change.newName && !change.newPassword) throw invalid('nothing to update: give a new name or password (redis users have no host)');
    if (change.newName) checkUserName(change.newName);
    if (change.newPassword) checkPassword(change.newPassword, 'new password');
    const old = await this.requireUser(name);
    const hashes = change.newPassword ? [passwordHash(change.newPassword)] : old.passwordHashes;
    if (!change.newName || change.newName === name) {
      await this.client.call('ACL', 'SETUSER', name, 'resetpass', ...hashes.map((h) => `#${h}`));
      await this.save();
      return;
    }
    if (await getAclUser(this.client, change.newName)) throw new AgentError('AGENT_ERR_ALREADY_EXISTS', `user ${change.newName} exists already`);
    await this.client.call('ACL', 'SETUSER', change.newName, ...recreateRules(old, hashes));
    try {
      await this.client.call('ACL', 'DELUSER', name);
    } catch (err) {
      await this.client.call('ACL', 'DELUSER', change.newName).catch(() => undefined);
      throw err;
    }
    await this.save();
  }

  async changePasswords(users: readonly User[]): Promise<void> {
    if (users.length === 0) throw invalid('no users given');
    for (const u of users) {
      checkUserName(u.name);
      checkHost(u.host);
      checkPassword(u.password, `password of user ${u.name}`);
    }
    for (const u of users) await this.requireUser(u.name);
    // One transaction: all passwords change, or (server failure) none.
    await this.client.transaction(users.map((u) => ['ACL', 'SETUSER', u.name, 'resetpass', `#${passwordHash(u.password)}`]));
    await this.save();
  }

  /** Root is Redis's `default` user: what AUTH <password> (requirepass) authenticates as. */
  async enableRoot(password: string): Promise<{ user: User; password: string }> {
    const pw = password || generatePassword();
    checkPassword(pw, 'root password');
    await this.client.call('ACL', 'SETUSER', 'default', ...rootRules(passwordHash(pw)));
    await this.save();
    return { user: toUser(await this.requireUser('default')), password: pw };
  }

  async disableRoot(): Promise<void> {
    await this.client.call('ACL', 'SETUSER', 'default', ...ROOT_OFF);
    await this.save();
    // "off" only stops new logins; sessions opened as root end now.
    await this.client.call('CLIENT', 'KILL', 'USER', 'default');
  }

  async isRootEnabled(): Promise<boolean> {
    return (await this.requireUser('default')).enabled;
  }
}
