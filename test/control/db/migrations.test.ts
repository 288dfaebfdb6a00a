// A control database made before PostgreSQL and Redis landed (schema 1, with
// the old catalog rows: both inactive, Redis as "7") is brought up to date at
// start: both active, Redis as 7.0, the version the agent runs. An operator's
// other rows are left alone.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS } from '../../../control/db/migrations.js';
import { openDatabase } from '../../../control/db/database.js';

t.test('schema 1 with the old catalog: PostgreSQL 15 and Redis 7.0 become available', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-migrate-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const old = new Database(path.join(dir, 'coffer.db'));
  old.exec(MIGRATIONS[0]!);
  old.pragma('user_version = 1');
  old.exec(`
    INSERT INTO datastores (name, default_version) VALUES ('postgresql', '15'), ('redis', '7'), ('mariadb', '10.11');
    INSERT INTO datastore_versions (datastore, name, manager, manager_version, active) VALUES
      ('postgresql', '15', 'postgresql', '15', 0),
      ('redis', '7', 'redis', '7', 0),
      ('mariadb', '10.11', 'mariadb', '10.11', 1),
      ('mariadb', '10.6', 'mariadb', '10.6', 0);
  `);
  old.close();

  const db = openDatabase(dir);
  t.teardown(() => db.close());
  t.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length, 'at the latest schema');
  const rows = db.prepare('SELECT datastore, name, manager_version, active FROM datastore_versions ORDER BY datastore, name').all();
  t.same(rows, [
    { datastore: 'mariadb', name: '10.11', manager_version: '10.11', active: 1 },
    { datastore: 'mariadb', name: '10.6', manager_version: '10.6', active: 0 },
    { datastore: 'mysql', name: '8.0', manager_version: '8.0', active: 1 },
    { datastore: 'postgresql', name: '15', manager_version: '15', active: 1 },
    { datastore: 'redis', name: '7.0', manager_version: '7.0', active: 1 },
  ], 'PostgreSQL and Redis active, Redis renamed; the operator\'s inactive mariadb 10.6 untouched');
  t.same(db.prepare("SELECT default_version FROM datastores WHERE name = 'redis'").get(), { default_version: '7.0' });
});
