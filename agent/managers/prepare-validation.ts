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

/**
 * The rules from a manager's own pieces: its password check, its accounts'
 * name checks and its configuration's. `userKey` defaults to the name.
 */
export function prepareRules(
  checkPassword: PrepareRules['checkPassword'],
  accounts: { validateDatabase(db: Database): void; validateUser(user: User): void },
  configuration: { validate(overrides: Readonly<Record<string, string>>): void },
  userKey: PrepareRules['userKey'] = (u) => u.name,
): PrepareRules {
  return {
    checkPassword,
    validateDatabase: (db) => accounts.validateDatabase(db),
    validateUser: (u) => accounts.validateUser(u),
    userKey,
    validateOverrides: (o) => configuration.validate(o),
  };
}

export function validatePrepare(input: PrepareInput, rules: PrepareRules): void {
  if (input.rootPassword) rules.checkPassword(input.rootPassword, 'root password');
  const databases = validateEach(input.databases, (db) => rules.validateDatabase(db), (db) => db.name, 'database');
  validateEach(
    input.users,
    (u) => {
      rules.validateUser(u);
      for (const db of u.databases) {
        if (!databases.has(db)) throw invalid(`user ${rules.userKey(u)} is granted database ${db}, which is not among the databases to create`);
      }
    },
    (u) => rules.userKey(u),
    'user',
  );
  rules.validateOverrides(input.overrides);
}

/**
 * Checks each item of a request and refuses two with the same key (one
 * request creating "shop" twice): for Prepare and for the account calls
 * that create several at once. Returns the keys.
 */
export function validateEach<T>(items: readonly T[], validate: (item: T) => void, key: (item: T) => string, what: string): Set<string> {
  const seen = new Set<string>();
  for (const item of items) {
    validate(item);
    const k = key(item);
    if (seen.has(k)) throw invalid(`${what} ${k} is named twice`);
    seen.add(k);
  }
  return seen;
}
