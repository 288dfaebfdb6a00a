// API tokens. Only a token's sha256 is stored: a stolen database does not
// give working tokens. The token itself is printed once, at creation.
import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../db/database.js';
import type { Scope } from './scope.js';

const hash = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

const PROJECT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function validProjectName(name: string): boolean {
  return PROJECT_NAME.test(name);
}

/** Creates the project if needed and a new token for it; returns the token. */
export function createToken(db: Db, project: string, admin: boolean, now = Date.now()): string {
  if (!validProjectName(project)) {
    throw new TypeError(`project name "${project}" is not allowed: use 1-64 letters, digits, "_", "." or "-", starting with a letter or digit`);
  }
  const token = `coffer_${randomBytes(32).toString('base64url')}`;
  db.transaction(() => {
    db.prepare('INSERT OR IGNORE INTO projects (name, created_at) VALUES (?, ?)').run(project, now);
    db.prepare('INSERT INTO tokens (hash, project, admin, created_at) VALUES (?, ?, ?, ?)').run(hash(token), project, admin ? 1 : 0, now);
  })();
  return token;
}

export function authenticate(db: Db, token: string): Scope | null {
  const row = db.prepare('SELECT project, admin FROM tokens WHERE hash = ?').get(hash(token)) as
    | { project: string; admin: number }
    | undefined;
  return row ? { project: row.project, admin: row.admin === 1 } : null;
}
