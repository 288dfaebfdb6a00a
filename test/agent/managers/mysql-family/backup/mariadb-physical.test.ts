// mariadb-backup end to end on real servers: a full and an incremental
// backup of instance A, restored as a chain into instance B through the
// agent's flow (Stop, empty data dir, restore, Start); B's tables then equal
// A's as of the incremental. Chains with a missing increment are refused.
import t from 'tap';
import path from 'node:path';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import { lookupOsUser } from '../../../../../lib/os-user.js';
import {
  CHANGE,
  POPULATE,
  backupFor,
  checksums,
  leftovers,
  metadata,
  opener,
  physicalRestore,
  preparedInstance,
  rootSql,
  saveSource,
} from './mariadb-helpers.js';
import { ofKind } from '../../../../support/error-kind.js';

t.test('full + incremental mariabackup restores into another instance', async (t) => {
  const [a, b] = await Promise.all([preparedInstance(t), preparedInstance(t)]);
  const files = mkdtempSync(path.join(os.tmpdir(), 'coffer-mariabackup-'));
  t.teardown(() => rmSync(files, { recursive: true, force: true }));
  const capA = backupFor(t, a);
  const capB = backupFor(t, b);
  t.equal(capA.defaultStrategy, 'mariabackup', 'mariabackup is the default for mariadb');
  t.same([...capA.strategies].sort(), ['mariabackup', 'mysqldump']);
  t.equal(capA.requiresRunning.mariabackup, false, 'a physical restore wants a stopped, empty datastore');

  await rootSql(a, POPULATE);

  // Full.
  const fullFile = path.join(files, 'full.xb');
  const fullRec = await saveSource(await capA.source({ strategy: 'mariabackup', type: 'full', signal: new AbortController().signal }), fullFile);
  t.equal(fullRec.fromLsn, '0', 'a full backup starts at LSN 0');
  t.match(fullRec.toLsn, /^\d+$/, 'to_lsn recorded');
  t.match(fullRec.gtidPosition, /^\d+-\d+-\d+/, 'GTID position recorded');
  t.match(fullRec.extra?.['server-version'], /MariaDB/, 'server version recorded');
  t.same(leftovers(a), [], 'no credentials file or work dir is left behind');
  const full = metadata(fullRec, { backupId: 'full-1', strategy: 'mariabackup' });

  // Change, then incremental from the full's to_lsn.
  await rootSql(a, CHANGE);
  const incFile = path.join(files, 'inc1.xb');
  const incRec = await saveSource(
    await capA.source({ strategy: 'mariabackup', type: 'incremental', parent: full, signal: new AbortController().signal }),
    incFile,
  );
  const expected = await checksums(a);
  t.equal(incRec.fromLsn, full.toLsn, "the increment starts at its parent's to_lsn");
  t.ok(BigInt(incRec.toLsn!) >= BigInt(full.toLsn), 'and ends at or after it');
  t.not(incRec.gtidPosition, full.gtidPosition, 'the GTID position moved with the changes');
  const inc = metadata(incRec, { backupId: 'inc-1', strategy: 'mariabackup', parentId: 'full-1' });
  t.ok(Object.keys(expected).length >= 5, 'every table is compared');

  await physicalRestore(b, capB, [full, inc], [fullFile, incFile]);
  t.same(await checksums(b), expected, "B's tables equal A's as of the incremental (CHECKSUM TABLE)");
  t.equal((await rootSql(b, 'SELECT COUNT(*) FROM shop.big_orders')).trim(), (await rootSql(a, 'SELECT COUNT(*) FROM shop.big_orders')).trim(), 'the view works');
  t.equal((await rootSql(b, 'SELECT shop.order_total(7)')).trim(), (await rootSql(a, 'SELECT shop.order_total(7)')).trim(), 'the function works');
  t.equal((await rootSql(b, "SELECT COUNT(*) FROM mysql.proc WHERE db = 'shop'")).trim(), '2', 'routines restored');
  t.same(leftovers(b), [], 'the restore work dir is removed');
  const mysqlUid = lookupOsUser('mysql').uid;
  const dataDir = path.join(b.baseDir, 'data');
  const notOwned = readdirSync(dataDir, { recursive: true }).map(String).filter((f) => statSync(path.join(dataDir, f)).uid !== mysqlUid);
  t.same(notOwned, [], 'every restored file belongs to the mysql user');

  // A second increment; a chain that skips the first is refused.
  await rootSql(a, 'INSERT INTO shop.audit (what) VALUES (\'after inc-1\')');
  const inc2File = path.join(files, 'inc2.xb');
  const inc2Rec = await saveSource(
    await capA.source({ strategy: 'mariabackup', type: 'incremental', parent: inc, signal: new AbortController().signal }),
    inc2File,
  );
  const inc2 = metadata(inc2Rec, { backupId: 'inc-2', strategy: 'mariabackup', parentId: 'inc-1' });
  const before = await checksums(b);
  await t.rejects(capB.restore([full, inc2], opener([fullFile, inc2File]), new AbortController().signal), { kind: 'NOT_FOUND', message: /inc-1.*missing/ }, 'a missing middle increment is refused');
  t.throws(() => capB.validateRestore([inc, inc2]), ofKind('NOT_FOUND'), 'a chain without its full backup is refused');
  const gap = { ...inc2, parentId: 'full-1', fromLsn: String(BigInt(full.toLsn) + 1n) };
  await t.rejects(capB.restore([full, gap], opener([fullFile, inc2File]), new AbortController().signal), { kind: 'INVALID_ARGUMENT', message: /gap/ }, 'an LSN gap is refused');
  t.same(await checksums(b), before, 'a refused chain touched nothing');
  t.same(leftovers(b), [], 'and left nothing behind');

  // The whole chain of three restores too.
  await physicalRestore(b, capB, [full, inc, inc2], [fullFile, incFile, inc2File]);
  t.same(await checksums(b), await checksums(a), 'full + 2 increments equal A now');
});

t.test('bad requests are refused before any tool starts', async (t) => {
  const a = await preparedInstance(t);
  const cap = backupFor(t, a);
  const signal = new AbortController().signal;
  await t.rejects(cap.source({ strategy: 'xtrabackup', type: 'full', signal }), ofKind('INVALID_ARGUMENT'), 'unknown strategy');
  await t.rejects(cap.source({ strategy: 'mariabackup', type: 'incremental', signal }), ofKind('INVALID_ARGUMENT'), 'incremental without parent');
  const dumpParent = metadata({}, { backupId: 'd', strategy: 'mysqldump' });
  await t.rejects(cap.source({ strategy: 'mariabackup', type: 'incremental', parent: dumpParent, signal }), ofKind('INVALID_ARGUMENT'), 'parent of another strategy');
  const noLsn = metadata({}, { backupId: 'p', strategy: 'mariabackup' });
  await t.rejects(cap.source({ strategy: 'mariabackup', type: 'incremental', parent: { ...noLsn, toLsn: '1; rm -rf /' }, signal }), ofKind('INVALID_ARGUMENT'), 'a parent LSN that is not a number');
  await t.rejects(cap.source({ strategy: 'mysqldump', type: 'incremental', parent: noLsn, signal }), ofKind('INVALID_ARGUMENT'), 'incremental logical backup');
  t.throws(() => cap.validateRestore([]), ofKind('INVALID_ARGUMENT'), 'empty chain');
  const dump = metadata({}, { backupId: 'd', strategy: 'mysqldump' });
  t.throws(() => cap.validateRestore([dump, { ...dump, backupId: 'e', parentId: 'd' }]), ofKind('INVALID_ARGUMENT'), 'a chain of logical backups');
  t.same(leftovers(a), []);
});
