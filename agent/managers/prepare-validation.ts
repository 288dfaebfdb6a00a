// What Prepare checks before it changes anything, once for every datastore:
// the root password, each database and user by the datastore's own name
// rules, no database or user named twice, users granted only databases the
// same request creates, and the configuration overrides. A request that
// passes here fails later only for reasons outside the request.
import type { Database, User } from '../../proto/gen/coffer/agent/v1/common.js';
import { invalid } from '../errors.js';
import type { PrepareInput } from './manager.js';

export interface PrepareRules {
  checkPassword(password: string, what: string): void;
  /** Throws INVALID_ARGUMENT (Redis: for any database at all). */
  validateDatabase(db: Database): void;
  validateUser(user: User): void;
  /**
   * What makes two users the same account, as shown in the refusal: the
   * name, or name@host where the datastore tells accounts apart by host.
   */
  userKey(user: User): string;
  validateOverrides(overrides: Readonly<Record<string, string>>): void;
}

export function validatePrepare(input: PrepareInput, rules: PrepareRules): void {
  if (input.rootPassword) rules.checkPassword(input.rootPassword, 'root password');
  const databases = new Set<string>();
  for (const db of input.databases) {
    rules.validateDatabase(db);
    if (databases.has(db.name)) throw invalid(`database ${db.name} is named twice`);
    databases.add(db.name);
  }
  const users = new Set<string>();
  for (const u of input.users) {
    rules.validateUser(u);
    const key = rules.userKey(u);
    if (users.has(key)) throw invalid(`user ${key} is named twice`);
    users.add(key);
    for (const db of u.databases) {
      if (!databases.has(db)) throw invalid(`user ${key} is granted database ${db}, which is not among the databases to create`);
    }
  }
  rules.validateOverrides(input.overrides);
}
