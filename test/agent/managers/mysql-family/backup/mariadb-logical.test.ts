// mysqldump (mariadb-dump) end to end on real servers: A's databases,
// routines, views, triggers and user accounts replayed into a running,
// prepared B; the agents' own accounts are not part of the dump, so B's
// agent keeps working.
import t from 'tap';
import path from 'node:path';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { call } from '../../../../support/agent.js';
import { mariadb } from '../../../../support/mariadb-client.js';
import type { ListDatabasesResponse } from '../../../../../proto/gen/coffer/agent/v1/accounts.js';
import { CHANGE, POPULATE, backupFor, checksums, leftovers, metadata, opener, preparedInstance, rootSql, saveSource } from './mariadb-helpers.js';

t.test('a logical backup round trip restores data and users, not the agent accounts', async (t) => {
  const [a, b] = await Promise.all([preparedInstance(t), preparedInstance(t)]);
  const files = mkdtempSync(path.join(os.tmpdir(), 'coffer-mysqldump-'));
  t.teardown(() => rmSync(files, { recursive: true, force: true }));
  const capA = backupFor(t, a);
  const capB = backupFor(t, b);
  t.equal(capA.requiresRunning.mysqldump, true, 'a logical restore wants a running datastore');

  await rootSql(a, POPULATE + CHANGE);
  await rootSql(
    a,
    `CREATE ROLE analyst;
     GRANT SELECT ON crm.* TO analyst;
     CREATE USER bob@'10.0.%' IDENTIFIED BY 'B0b-pass' WITH MAX_QUERIES_PER_HOUR 500;
     GRANT analyst TO bob@'10.0.%';
     SET DEFAULT ROLE analyst FOR bob@'10.0.%';
     GRANT SELECT, INSERT ON shop.items TO alice@'%';`,
  );
  // alice's password differs on B: the dump's must win.
  await rootSql(b, `ALTER USER alice@'%' IDENTIFIED BY 'Other-pass1'`);

  const file = path.join(files, 'dump.sql');
  const rec = await saveSource(await capA.source({ strategy: 'mysqldump', type: 'full', signal: new AbortController().signal }), file);
  const expected = await checksums(a);
  t.match(rec.gtidPosition, /^\d+-\d+-\d+/, 'GTID position of the snapshot recorded');
  t.match(rec.extra?.['server-version'], /MariaDB/, 'server version recorded');
  t.match(rec.extra?.['binlog-file'], /mysql-bin/, 'binlog position recorded');
  t.same(leftovers(a), [], 'the credentials file is removed');
  const dump = readFileSync(file, 'utf8');
  // Booleans, not t.notMatch: a failure must not print a whole dump.
  t.notOk(/coffer_admin/.test(dump), 'the agent account is not in the dump');
  t.notOk(/(CREATE (OR REPLACE )?USER|TO) `root`@/.test(dump), 'nor root (root appears only as a DEFINER)');
  t.notOk(/INSERT INTO `(global_priv|user)`/.test(dump), 'nor the mysql schema');
  t.notOk(dump.includes(readFileSync(path.join(a.baseDir, 'agent', 'admin.secret'), 'utf8').trim()), 'nor the agent secret');

  await capB.restore([metadata(rec, { backupId: 'dump-1', strategy: 'mysqldump' })], opener([file]), new AbortController().signal);
  t.same(await checksums(b), expected, "B's tables equal A's (CHECKSUM TABLE)");
  t.ok(Object.keys(expected).length >= 5, 'every table is compared');
  t.equal((await rootSql(b, 'SELECT COUNT(*) FROM shop.big_orders')).trim(), (await rootSql(a, 'SELECT COUNT(*) FROM shop.big_orders')).trim(), 'the view works');
  t.equal((await rootSql(b, 'SELECT shop.order_total(7)')).trim(), (await rootSql(a, 'SELECT shop.order_total(7)')).trim(), 'the function works');
  await rootSql(b, 'INSERT INTO shop.orders (item_id, qty) VALUES (1, 1)');
  t.equal((await rootSql(b, "SELECT COUNT(*) FROM shop.audit WHERE what LIKE 'order %'")).trim(), (await rootSql(a, "SELECT COUNT(*) + 1 FROM shop.audit WHERE what LIKE 'order %'")).trim(), 'the trigger was restored');

  const alice = await mariadb(b.datastorePort, 'alice', 'Al1ce-pass', 'SELECT COUNT(*) FROM shop.items');
  t.equal(alice.code, 0, `alice logs in to B with her password from A: ${alice.stderr}`);
  t.equal(alice.stdout.trim(), '6000');
  t.equal((await rootSql(b, "SHOW GRANTS FOR bob@'10.0.%'")).includes('GRANT `analyst` TO `bob`@`10.0.%`'), true, 'role grants restored');
  t.match(await rootSql(b, "SHOW CREATE USER bob@'10.0.%'"), /MAX_QUERIES_PER_HOUR 500/, 'account limits restored');
  t.match(await rootSql(b, "SELECT default_role FROM mysql.user WHERE user = 'bob'"), /analyst/, 'default role restored');

  // B's agent still reaches its datastore with its own account.
  const dbs = await call<object, ListDatabasesResponse>(b.clients.accounts, 'listDatabases', { page: { limit: 0, marker: '' } });
  t.ok(dbs.databases.some((d) => d.name === 'crm'), "B's agent lists the restored databases with its own account");
  t.same(leftovers(b), [], 'the restore leaves no credentials file');

  // Replaying the same dump again (onto existing users and tables) succeeds.
  await capB.restore([metadata(rec, { backupId: 'dump-1', strategy: 'mysqldump' })], opener([file]), new AbortController().signal);
  t.same(await checksums(b), expected, 'replaying again onto existing users and tables succeeds (and undoes the later insert)');
});

t.test('a logical restore that fails reports the client error', async (t) => {
  const a = await preparedInstance(t);
  const cap = backupFor(t, a);
  const files = mkdtempSync(path.join(os.tmpdir(), 'coffer-mysqldump-'));
  t.teardown(() => rmSync(files, { recursive: true, force: true }));
  const file = path.join(files, 'bad.sql');
  writeFileSync(file, 'CREATE DATABASE okdb;\nTHIS IS NOT SQL;\n');
  await t.rejects(
    cap.restore([metadata({}, { backupId: 'bad', strategy: 'mysqldump' })], opener([file]), new AbortController().signal),
    { kind: 'DATASTORE', message: /ERROR 1064.*line 2/s },
  );
  t.same(leftovers(a), []);
});
