// The accounts capability for PostgreSQL: users are login roles (no host
// part), access is per database, root is a superuser role named "root".
// Each call checks every input before the first statement runs; a batch
// either happens whole or is undone.
import type { AccountsCapability } from '../manager.js';
import type { Database, Page, User } from '../../../proto/gen/coffer/agent/v1/common.js';
import { AgentError, invalid, notFound } from '../../errors.js';
import { RESERVED_ROLES, ROOT_ROLE } from './constants.js';
import { PgAccess } from './access.js';
import { PgDatabases, validateDatabase } from './databases.js';
import { checkDatabaseName, checkHost, checkPassword, checkRoleName } from './names.js';
import { pageLimit } from './page.js';
import type { PgClient } from './pg-client.js';
import { PgRoles } from './roles.js';
import { generatePassword } from './scram.js';
import { validateEach } from '../prepare-validation.js';

// What an API-created user may do: log in, nothing administrative.
const USER_ATTRIBUTES = 'NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT';
const ROOT_ATTRIBUTES = 'SUPERUSER CREATEDB CREATEROLE INHERIT';

const user = (name: string, databases: string[] = []): User => ({ name, host: '', password: '', databases, rules: [] });

export class PgAccounts implements AccountsCapability {
  private readonly databases: PgDatabases;
  private readonly roles: PgRoles;
  private readonly access: PgAccess;

  constructor(private readonly sql: PgClient) {
    this.databases = new PgDatabases(sql);
    this.roles = new PgRoles(sql);
    this.access = new PgAccess(sql);
  }

  validateDatabase(db: Database): void {
    validateDatabase(db);
  }

  validateUser(u: User): void {
    checkRoleName(u.name);
    checkHost(u.host);
    checkPassword(u.password, `password of user ${u.name}`);
    for (const db of u.databases) checkDatabaseName(db);
  }

  listDatabases(page: Page) {
    return this.databases.list(page);
  }

  createDatabases(databases: readonly Database[]): Promise<void> {
    return this.databases.create(databases);
  }

  deleteDatabase(name: string): Promise<void> {
    return this.databases.delete(name);
  }

  private async requireUser(name: string): Promise<void> {
    if (!(await this.roles.loginExists(name))) throw notFound(`user ${name} does not exist`);
  }

  private async databasesOf(name: string): Promise<string[]> {
    return (await this.access.list(name)).map((d) => d.name);
  }

  async listUsers(page: Page): Promise<{ users: User[]; nextMarker: string }> {
    const limit = pageLimit(page);
    const cmp = page?.includeMarker ? '>=' : '>';
    const rows = await this.sql.query(
      `SELECT rolname AS name FROM pg_roles
        WHERE rolcanlogin AND rolname !~ '^pg_' AND lower(rolname) <> ALL($1::text[]) AND rolname ${cmp} $2::name
        ORDER BY rolname LIMIT $3`,
      [RESERVED_ROLES, page?.marker ?? '', limit + 1],
    );
    const users: User[] = [];
    for (const r of rows.slice(0, limit)) users.push(user(String(r.name), await this.databasesOf(String(r.name))));
    return { users, nextMarker: rows.length > limit ? users[users.length - 1]!.name : '' };
  }

  async getUser(name: string, host: string): Promise<User> {
    checkRoleName(name);
    checkHost(host);
    await this.requireUser(name);
    return user(name, await this.databasesOf(name));
  }

  async createUsers(users: readonly User[]): Promise<void> {
    if (users.length === 0) throw invalid('no users given');
    validateEach(users, (u) => this.validateUser(u), (u) => u.name, 'user');
    for (const u of users) {
      if (await this.roles.anyExists(u.name)) throw new AgentError('AGENT_ERR_ALREADY_EXISTS', `user ${u.name} exists already`);
      await this.databases.require(u.databases);
    }
    // Roles are created in one transaction; the schema grants inside each
    // database need their own sessions, so a failure there drops the roles.
    await this.sql.transaction(async (q) => {
      for (const u of users) await this.roles.create(q, u.name, u.password, USER_ATTRIBUTES);
    });
    try {
      for (const u of users) for (const db of u.databases) await this.access.grant(u.name, db);
    } catch (err) {
      for (const u of users) await this.roles.drop(u.name).catch(() => undefined);
      throw err;
    }
  }

  async deleteUser(name: string, host: string): Promise<void> {
    checkRoleName(name);
    checkHost(host);
    await this.requireUser(name);
    await this.roles.drop(name);
  }

  async updateUserAttributes(name: string, host: string, change: { newName: string; newHost: string; newPassword: string }): Promise<void> {
    checkRoleName(name);
    checkHost(host);
    if (!change.newName && !change.newHost && !change.newPassword) throw invalid('nothing to update: give a new name or password');
    if (change.newName) checkRoleName(change.newName, 'new user name');
    if (change.newHost) checkHost(change.newHost);
    if (change.newPassword) checkPassword(change.newPassword, 'new password');
    await this.requireUser(name);
    const renamed = !!change.newName && change.newName !== name;
    if (renamed && (await this.roles.anyExists(change.newName))) throw new AgentError('AGENT_ERR_ALREADY_EXISTS', `user ${change.newName} exists already`);
    await this.sql.transaction(async (q) => {
      if (change.newPassword) await this.roles.setPassword(q, name, change.newPassword);
      if (renamed) await this.roles.rename(q, name, change.newName);
    });
  }

  async changePasswords(users: readonly User[]): Promise<void> {
    if (users.length === 0) throw invalid('no users given');
    for (const u of users) {
      checkRoleName(u.name);
      checkHost(u.host);
      checkPassword(u.password, `password of user ${u.name}`);
    }
    for (const u of users) await this.requireUser(u.name);
    await this.sql.transaction(async (q) => {
      for (const u of users) await this.roles.setPassword(q, u.name, u.password);
    });
  }

  async grantAccess(name: string, host: string, databases: readonly string[]): Promise<void> {
    checkRoleName(name);
    checkHost(host);
    if (databases.length === 0) throw invalid('no databases given');
    for (const db of databases) checkDatabaseName(db);
    await this.requireUser(name);
    await this.databases.require(databases);
    for (const db of databases) await this.access.grant(name, db);
  }

  async revokeAccess(name: string, host: string, database: string): Promise<void> {
    checkRoleName(name);
    checkHost(host);
    checkDatabaseName(database);
    await this.requireUser(name);
    await this.databases.require([database]);
    if (!(await this.databasesOf(name)).includes(database)) throw notFound(`user ${name} has no access to database ${database}`);
    await this.access.revoke(name, database);
  }

  async listAccess(name: string, host: string): Promise<Database[]> {
    checkRoleName(name);
    checkHost(host);
    await this.requireUser(name);
    return this.access.list(name);
  }

  async enableRoot(password: string): Promise<{ user: User; password: string }> {
    const pw = password || generatePassword();
    checkPassword(pw, 'root password');
    await this.sql.transaction(async (q) => {
      if ((await q('SELECT 1 FROM pg_roles WHERE rolname = $1', [ROOT_ROLE])).length === 0) {
        await this.roles.create(q, ROOT_ROLE, pw, ROOT_ATTRIBUTES);
      } else {
        await q(`ALTER ROLE ${ROOT_ROLE} WITH LOGIN ${ROOT_ATTRIBUTES}`);
        await this.roles.setPassword(q, ROOT_ROLE, pw);
      }
    });
    return { user: user(ROOT_ROLE), password: pw };
  }

  async disableRoot(): Promise<void> {
    if (await this.roles.anyExists(ROOT_ROLE)) await this.roles.drop(ROOT_ROLE);
  }

  async isRootEnabled(): Promise<boolean> {
    return this.roles.loginExists(ROOT_ROLE);
  }
}
