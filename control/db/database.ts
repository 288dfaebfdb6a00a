// Opens the control's SQLite database (WAL, foreign keys), applies pending
// migrations in one transaction each, and seeds the default catalog.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { MIGRATIONS } from './migrations.js';
import { seedCatalog } from './seed.js';

export type Db = Database.Database;

export function openDatabase(dataDir: string): Db {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const db = new Database(path.join(dataDir, 'coffer.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  // The CLI (`token create`) may write while the server runs: wait, not fail.
  db.pragma('busy_timeout = 5000');
  // WAL with synchronous=NORMAL is durable against a process kill (-9), which
  // is what the task engine promises; only an OS crash can lose the last
  // commits.
  db.pragma('synchronous = NORMAL');
  migrate(db);
  seedCatalog(db);
  return db;
}

export function migrate(db: Db): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return MIGRATIONS.length;
}
