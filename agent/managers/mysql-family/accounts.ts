// Databases, users, access and root for the MySQL family. Each call checks
// every input before the first statement runs, and a batch either happens
// whole or is undone, so a bad entry never leaves half a batch behind.
import { randomBytes } from 'node:crypto';
import type { AccountsCapability } from '../manager.js';
import type { Database, User, Page } from '../../../proto/gen/coffer/agent/v1/common.js';
import { AgentError, invalid, notFound } from '../../errors.js';
import { REPLICATION_USER_PREFIX, RESERVED_DATABASES, type MysqlFlavor } from './flavor.js';
import { checkCharset, checkDatabaseName, checkPassword, checkUserName, normalizeHost } from './names.js';
import { account, escapeId, type SqlClient } from './sql-client.js';
import { validateEach } from '../prepare-validation.js';
import { READ_ONLY_ADMIN } from './replication/read-only.js';
import { IDENTIFIED_BY_HASH, nativePasswordHash } from './password-hash.js';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

function pageLimit(page: Page | undefined): number {
  const limit = page?.limit ?? 0;
  if (limit < 0) throw invalid(`limit must be positive, got ${limit}`);
  if (limit > MAX_LIMIT) throw invalid(`limit must be at most ${MAX_LIMIT}, got ${limit}`);
  return limit === 0 ? DEFAULT_LIMIT : limit;
}

/** A database name as a GRANT target: `_` and `%` are wildcards there. */
function grantTarget(db: string): string {
  return `${escapeId(db.replace(/([_%\\])/g, '\\$1'))}.*`;
}

function ungrantName(db: string): string {
  return db.replace(/\\([_%\\])/g, '$1');
}

export function generatePassword(): string {
  // 24 bytes of randomness, base64url: 32 printable characters.
  return randomBytes(24).toString('base64url');
}

export class MysqlAccounts implements AccountsCapability {
  constructor(private readonly sql: SqlClient, private readonly flavor: MysqlFlavor) {}

  validateDatabase(db: Database): void {
    checkDatabaseName(db.name);
    checkCharset(db.characterSet, 'character set');
    checkCharset(db.collation, 'collation');
  }

  validateUser(user: User): void {
    checkUserName(user.name, this.flavor);
    normalizeHost(user.host);
    checkPassword(user.password, `password of user ${user.name}`);
    for (const db of user.databases) checkDatabaseName(db);
  }

  async listDatabases(page: Page): Promise<{ databases: Database[]; nextMarker: string }> {
    const limit = pageLimit(page);
    const marker = page?.marker ?? '';
    const rows = await this.sql.query(
      `SELECT SCHEMA_NAME AS name, DEFAULT_CHARACTER_SET_NAME AS cs, DEFAULT_COLLATION_NAME AS co
         FROM information_schema.SCHEMATA
        WHERE SCHEMA_NAME NOT IN (?) AND SCHEMA_NAME ${page?.includeMarker ? '>=' : '>'} ?
        ORDER BY SCHEMA_NAME LIMIT ?`,
      [RESERVED_DATABASES, marker, limit + 1],
    );
    const databases = rows.slice(0, limit).map((r) => ({ name: String(r.name), characterSet: String(r.cs), collation: String(r.co) }));
    return { databases, nextMarker: rows.length > limit ? databases[databases.length - 1]!.name : '' };
  }

  private async databaseExists(name: string): Promise<boolean> {
    const rows = await this.sql.query('SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [name]);
    return rows.length > 0;
  }

  private async checkCollation(db: Database): Promise<void> {
    if (!db.characterSet && !db.collation) return;
    if (db.characterSet) {
      const rows = await this.sql.query('SELECT 1 FROM information_schema.CHARACTER_SETS WHERE CHARACTER_SET_NAME = ?', [db.characterSet]);
      if (rows.length === 0) throw invalid(`character set "${db.characterSet}" of database ${db.name} is not known to the server`);
    }
    if (db.collation) {
      const rows = await this.sql.query('SELECT CHARACTER_SET_NAME AS cs FROM information_schema.COLLATIONS WHERE COLLATION_NAME = ?', [db.collation]);
      if (rows.length === 0) throw invalid(`collation "${db.collation}" of database ${db.name} is not known to the server`);
      if (db.characterSet && String(rows[0]!.cs) !== db.characterSet) {
        throw invalid(`collation "${db.collation}" does not belong to character set "${db.characterSet}" (database ${db.name})`);
      }
    }
  }

  async createDatabases(databases: readonly Database[]): Promise<void> {
    if (databases.length === 0) throw invalid('no databases given');
    validateEach(databases, (db) => this.validateDatabase(db), (db) => db.name, 'database');
    for (const db of databases) {
      await this.checkCollation(db);
      if (await this.databaseExists(db.name)) throw new AgentError('AGENT_ERR_ALREADY_EXISTS', `database ${db.name} exists already`);
    }
    const created: string[] = [];
    try {
      for (const db of databases) {
        let sql = `CREATE DATABASE ${escapeId(db.name)}`;
        if (db.characterSet) sql += ` CHARACTER SET ${escapeId(db.characterSet)}`;
        if (db.collation) sql += ` COLLATE ${escapeId(db.collation)}`;
        await this.sql.query(sql);
        created.push(db.name);
      }
    } catch (err) {
      for (const name of created) await this.sql.query(`DROP DATABASE IF EXISTS ${escapeId(name)}`).catch(() => undefined);
      throw err;
    }
  }

  async deleteDatabase(name: string): Promise<void> {
    checkDatabaseName(name);
    if (!(await this.databaseExists(name))) throw notFound(`database ${name} does not exist`);
    await this.sql.query(`DROP DATABASE ${escapeId(name)}`);
  }

  private reservedUserSql(): { clause: string; values: unknown[] } {
    // Replication accounts (coffer_repl_*) are the agent's too.
    return { clause: `User <> '' AND User NOT IN (?) AND User NOT LIKE ?`, values: [[...this.flavor.reservedUsers], `${REPLICATION_USER_PREFIX.replace(/_/g, '\\_')}%`] };
  }

  async listUsers(page: Page): Promise<{ users: User[]; nextMarker: string }> {
    const limit = pageLimit(page);
    // The marker is "name@host" of the last user of the previous page.
    const marker = page?.marker ?? '';
    const at = marker.lastIndexOf('@');
    const [mName, mHost] = at >= 0 ? [marker.slice(0, at), marker.slice(at + 1)] : [marker, ''];
    const r = this.reservedUserSql();
    const cmp = page?.includeMarker ? '>=' : '>';
    const rows = await this.sql.query(
      `SELECT User AS name, Host AS host FROM mysql.user
        WHERE ${r.clause} AND ${marker ? `(User, Host) ${cmp} (?, ?)` : '1=1'}
        ORDER BY User, Host LIMIT ?`,
      [...r.values, ...(marker ? [mName, mHost] : []), limit + 1],
    );
    const users: User[] = [];
    for (const row of rows.slice(0, limit)) {
      const name = String(row.name);
      const host = String(row.host);
      users.push({ name, host, password: '', databases: (await this.listAccess(name, host, false)).map((d) => d.name), rules: [] });
    }
    const last = users[users.length - 1];
    return { users, nextMarker: rows.length > limit && last ? `${last.name}@${last.host}` : '' };
  }

  private async userExists(name: string, host: string): Promise<boolean> {
    const rows = await this.sql.query('SELECT 1 FROM mysql.user WHERE User = ? AND Host = ?', [name, host]);
    return rows.length > 0;
  }

  private async requireUser(name: string, host: string): Promise<void> {
    if (!(await this.userExists(name, host))) throw notFound(`user '${name}'@'${host}' does not exist`);
  }

  private async requireDatabases(names: readonly string[]): Promise<void> {
    for (const db of names) {
      if (!(await this.databaseExists(db))) throw notFound(`database ${db} does not exist`);
    }
  }

  async getUser(name: string, hostIn: string): Promise<User> {
    checkUserName(name, this.flavor);
    const host = normalizeHost(hostIn);
    await this.requireUser(name, host);
    return { name, host, password: '', databases: (await this.listAccess(name, host, false)).map((d) => d.name), rules: [] };
  }

  async createUsers(users: readonly User[]): Promise<void> {
    if (users.length === 0) throw invalid('no users given');
    validateEach(users, (u) => this.validateUser(u), (u) => `${u.name}@${normalizeHost(u.host)}`, 'user');
    for (const u of users) {
      const host = normalizeHost(u.host);
      if (await this.userExists(u.name, host)) throw new AgentError('AGENT_ERR_ALREADY_EXISTS', `user '${u.name}'@'${host}' exists already`);
      await this.requireDatabases(u.databases);
    }
    const created: string[] = [];
    try {
      for (const u of users) {
        const acct = account(u.name, normalizeHost(u.host));
        await this.sql.query(`CREATE USER ${acct} ${IDENTIFIED_BY_HASH}`, [nativePasswordHash(u.password)]);
        created.push(acct);
        for (const db of u.databases) await this.sql.query(`GRANT ALL PRIVILEGES ON ${grantTarget(db)} TO ${acct}`);
      }
    } catch (err) {
      for (const acct of created) await this.sql.query(`DROP USER IF EXISTS ${acct}`).catch(() => undefined);
      throw err;
    }
  }

  async deleteUser(name: string, hostIn: string): Promise<void> {
    checkUserName(name, this.flavor);
    const host = normalizeHost(hostIn);
    await this.requireUser(name, host);
    await this.sql.query(`DROP USER ${account(name, host)}`);
  }

  async updateUserAttributes(
    name: string,
    hostIn: string,
    change: { newName: string; newHost: string; newPassword: string },
  ): Promise<void> {
    checkUserName(name, this.flavor);
    const host = normalizeHost(hostIn);
    if (!change.newName && !change.newHost && !change.newPassword) throw invalid('nothing to update: give a new name, host or password');
    const newName = change.newName || name;
    if (change.newName) checkUserName(newName, this.flavor);
    const newHost = change.newHost ? normalizeHost(change.newHost) : host;
    if (change.newPassword) checkPassword(change.newPassword, 'new password');
    await this.requireUser(name, host);
    const renamed = newName !== name || newHost !== host;
    if (renamed && (await this.userExists(newName, newHost))) {
      throw new AgentError('AGENT_ERR_ALREADY_EXISTS', `user '${newName}'@'${newHost}' exists already`);
    }
    if (change.newPassword) await this.sql.query(`ALTER USER ${account(name, host)} ${IDENTIFIED_BY_HASH}`, [nativePasswordHash(change.newPassword)]);
    if (renamed) await this.sql.query(`RENAME USER ${account(name, host)} TO ${account(newName, newHost)}`);
  }

  async changePasswords(users: readonly User[]): Promise<void> {
    if (users.length === 0) throw invalid('no users given');
    for (const u of users) {
      checkUserName(u.name, this.flavor);
      normalizeHost(u.host);
      checkPassword(u.password, `password of user ${u.name}`);
    }
    for (const u of users) await this.requireUser(u.name, normalizeHost(u.host));
    for (const u of users) await this.sql.query(`ALTER USER ${account(u.name, normalizeHost(u.host))} ${IDENTIFIED_BY_HASH}`, [nativePasswordHash(u.password)]);
  }

  async grantAccess(name: string, hostIn: string, databases: readonly string[]): Promise<void> {
    checkUserName(name, this.flavor);
    const host = normalizeHost(hostIn);
    if (databases.length === 0) throw invalid('no databases given');
    for (const db of databases) checkDatabaseName(db);
    await this.requireUser(name, host);
    await this.requireDatabases(databases);
    for (const db of databases) await this.sql.query(`GRANT ALL PRIVILEGES ON ${grantTarget(db)} TO ${account(name, host)}`);
  }

  async revokeAccess(name: string, hostIn: string, database: string): Promise<void> {
    checkUserName(name, this.flavor);
    const host = normalizeHost(hostIn);
    checkDatabaseName(database);
    await this.requireUser(name, host);
    const has = (await this.listAccess(name, host, false)).some((d) => d.name === database);
    if (!has) throw notFound(`user '${name}'@'${host}' has no access to database ${database}`);
    await this.sql.query(`REVOKE ALL PRIVILEGES ON ${grantTarget(database)} FROM ${account(name, host)}`);
  }

  async listAccess(name: string, hostIn: string, check = true): Promise<Database[]> {
    let host = hostIn;
    if (check) {
      checkUserName(name, this.flavor);
      host = normalizeHost(hostIn);
      await this.requireUser(name, host);
    }
    const rows = await this.sql.query('SELECT Db AS db FROM mysql.db WHERE User = ? AND Host = ? ORDER BY Db', [name, host]);
    return rows.map((r) => ({ name: ungrantName(String(r.db)), characterSet: '', collation: '' }));
  }

  async enableRoot(password: string): Promise<{ user: User; password: string }> {
    const pw = password || generatePassword();
    checkPassword(pw, 'root password');
    await this.sql.query(`CREATE USER IF NOT EXISTS 'root'@'%' ${IDENTIFIED_BY_HASH}`, [nativePasswordHash(pw)]);
    await this.sql.query(`ALTER USER 'root'@'%' ${IDENTIFIED_BY_HASH}`, [nativePasswordHash(pw)]);
    await this.sql.query(`GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION`);
    // Everything but the power to write through read_only: a replica, or a
    // fenced source, refuses root's writes too (replication/read-only.ts).
    // Revoked here, where the GRANT is made, so replicas never receive it.
    await this.sql.query(`REVOKE ${READ_ONLY_ADMIN} ON *.* FROM 'root'@'%'`);
    return { user: { name: 'root', host: '%', password: '', databases: [], rules: [] }, password: pw };
  }

  async disableRoot(): Promise<void> {
    await this.sql.query(`DROP USER IF EXISTS 'root'@'%'`);
  }

  async isRootEnabled(): Promise<boolean> {
    return this.userExists('root', '%');
  }
}
