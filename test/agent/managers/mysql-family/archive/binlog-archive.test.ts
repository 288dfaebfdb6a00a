// Binlog archiving and restore to a point on real MariaDB servers and a
// real local store, through the MySQL-family archive capability and the
// archive core's archiver and verified fetch (archive-helpers.ts): rows with
// known timestamps, a delete, then restores of the backup replayed to a
// second before the delete and to the delete's GTID; the timer's forced
// rotation; a store away (an injected fault) and the catch-up; a binlog
// stored whose catalogue write failed, neither acknowledged nor purged
// until a catalogue lists it; the purge that waits for the archive;
// targets outside the archive refused naming the window; a tampered object
// refused before anything is applied.
import t from 'tap';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { call, collect, startAgent, tempBase, waitFor, type AgentProcess } from '../../../../support/agent.js';
import { LocalStorage } from '../../../../../strategies/storage/local.js';
import { archivePrefixBesideBackup, parseCatalogue, type ArchivedObject } from '../../../../../strategies/archive/layout.js';
import { loadWrappingKey } from '../../../../../strategies/backup/key-file.js';
import { planRestore } from '../../../../../agent/archive/planner.js';
import type { PointTarget } from '../../../../../agent/archive/archive-datastore.js';
import { binlogTable } from '../../../../../agent/managers/mysql-family/archive/binlog-table.js';
import { reached } from '../../../../../agent/managers/mysql-family/replication/gtid.js';
import { BackupType, type BackupArtifact, type CreateBackupResponse } from '../../../../../proto/gen/coffer/agent/v1/backup.js';
import type { MysqlArchiveCapability } from '../../../../../agent/managers/mysql-family/archive/capability.js';
import { archiveFor, archiverFor, faultyStore, fetchVerified, rootSql } from './archive-helpers.js';
import { ofKind } from '../../../../support/error-kind.js';

const PREPARE = { datastoreVersion: '', rootPassword: '', databases: [{ name: 'shop', characterSet: '', collation: '' }], users: [], overrides: {}, restore: undefined, replicaOf: undefined };

/** Waits until the clock is at or past `second` (Unix seconds). */
const untilSecond = (second: number) => waitFor(`the clock to reach ${second}`, async () => Date.now() >= second * 1000, 10_000);

const rows = (baseDir: string) => rootSql(baseDir, "SELECT COALESCE(GROUP_CONCAT(id ORDER BY id), '') FROM shop.t");
const binlogsOn = async (baseDir: string) => (await rootSql(baseDir, 'SHOW BINARY LOGS')).split('\n').map((l) => l.split('\t')[0]!);

t.test('binlogs archived with their ranges, replayed to a second and to a GTID', async (t) => {
  const dir = tempBase('coffer-pitr-maria-');
  const keyFile = path.join(dir, 'backup.key');
  writeFileSync(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  const backupDir = path.join(dir, 'backups');
  const args = ['--backup-dir', backupDir, '--backup-key-file', keyFile];
  const key = loadWrappingKey(keyFile);

  const a = await startAgent(t, { extraArgs: args });
  await collect(a.clients.lifecycle.prepare(PREPARE));
  await rootSql(a.baseDir, 'CREATE TABLE shop.t (id INT PRIMARY KEY, note VARCHAR(20)) ENGINE=InnoDB');
  const backups = await collect<CreateBackupResponse>(a.clients.backup.createBackup({ backupId: 'full-1', type: BackupType.BACKUP_TYPE_FULL, strategy: '', parent: undefined, storage: undefined, compression: '' }));
  const full = backups.at(-1)!.artifact! as BackupArtifact;
  const backupEndMs = Date.now();
  t.match(full.metadata!.gtidPosition, /^0-\d+-\d+$/, 'the backup records its GTID position');

  // Archiving of A: the capability's passes every 200 ms hand binlogs to
  // the core's archiver (archive timeout 1 s); archived files are purged at
  // once (local retention 0).
  const store = faultyStore(new LocalStorage({ root: backupDir }));
  const prefix = archivePrefixBesideBackup(full.location!.location);
  const capA = archiveFor(t, a.baseDir, { pollMs: 200, localRetentionSeconds: 0 });
  let archiver = await archiverFor(t, capA, store, prefix, key);
  let driver = capA.drive((name) => archiver.handOver(name));
  t.teardown(() => driver.stop());
  const catalogue = (): ArchivedObject[] => {
    const file = path.join(backupDir, prefix, 'catalogue.json');
    return existsSync(file) ? [...parseCatalogue(readFileSync(file, 'utf8'), file).objects] : [];
  };
  const binlogSaves = () => [...store.saves].filter(([k]) => k.includes('/binlog/'));

  // Rows with known timestamps, one second apart.
  const t1 = Math.ceil(backupEndMs / 1000) + 1;
  await untilSecond(t1);
  await rootSql(a.baseDir, `SET TIMESTAMP = ${t1}; INSERT INTO shop.t VALUES (1, 'one'), (2, 'two'), (3, 'three')`);
  await untilSecond(t1 + 1);
  await rootSql(a.baseDir, `SET TIMESTAMP = ${t1 + 1}; DELETE FROM shop.t WHERE id = 2`);
  const deleteGtid = await rootSql(a.baseDir, 'SELECT @@GLOBAL.gtid_binlog_pos');
  await untilSecond(t1 + 2);
  await rootSql(a.baseDir, `SET TIMESTAMP = ${t1 + 2}; INSERT INTO shop.t VALUES (4, 'four')`);
  const lastGtid = await rootSql(a.baseDir, 'SELECT @@GLOBAL.gtid_binlog_pos');

  // No FLUSH from here: the archive timeout rotates the active file.
  const covering = (gtid: string) => async () => catalogue().find((o) => reached(gtid, o.endPosition));
  const last = await waitFor('the rotation on the archive timeout and its upload', covering(lastGtid), 60_000);
  t.equal(last.kind, 'binlog');
  t.match(last.name, /^mysql-bin\.\d{6}$/, 'named after the binlog');
  t.equal(last.lastCommitMs, (t1 + 2) * 1000, "the object records its last transaction's time");
  const archived = catalogue();
  const first = archived[0]!;
  t.equal(first.startPosition, '', 'the first binlog starts from an empty GTID state');
  t.same(archived.slice(1).filter((o, i) => !binlogTable.follows(archived[i]!, o)).map((o) => o.name), [], 'each archived binlog follows the one before it');
  const stored = path.join(backupDir, last.key);
  t.ok(statSync(stored).size > 0, 'the object is in the store');
  t.notOk(readFileSync(stored).includes(Buffer.from('three')), 'stored encrypted');
  await waitFor('archived binlogs purged', async () => !(await binlogsOn(a.baseDir)).includes(first.name));
  t.same(binlogSaves().filter(([, n]) => n > 1), [], 'no binlog was uploaded twice');

  // The store goes away: archiving falls behind and says so; nothing is purged.
  store.down = true;
  await rootSql(a.baseDir, "INSERT INTO shop.t VALUES (5, 'five')");
  const fiveGtid = await rootSql(a.baseDir, 'SELECT @@GLOBAL.gtid_binlog_pos');
  const behind = await waitFor('archiving to report a binlog it cannot store', async () => (driver.last?.error && driver.last.pending.length > 0 ? driver.last : undefined), 60_000);
  t.match(behind.error!.message, /store is away/, 'the pass reports the store failure');
  const away = await archiver.status();
  t.ok(away.pendingCount >= 1 && away.pendingBytes > 0, 'the archive status counts the binlogs waiting');
  t.match(away.lastError, /store is away/, 'and names the failure');
  t.ok((await binlogsOn(a.baseDir)).includes(behind.pending[0]!.name), 'the unarchived binlog stays on the instance');
  t.ok(existsSync(behind.pending[0]!.path), 'its file is there');

  // A restarted agent (a new archiver, reading the catalogue back) with the store back: it catches up.
  await driver.stop();
  archiver.close();
  store.down = false;
  const listed = catalogue();
  const savesBefore = new Map(store.saves);
  archiver = await archiverFor(t, capA, store, prefix, key);
  driver = capA.drive((name) => archiver.handOver(name));
  await waitFor('archiving to catch up', covering(fiveGtid), 60_000);
  await waitFor('nothing pending', async () => driver.last && driver.last.pending.length === 0 && !driver.last.error);
  t.same(listed.filter((o) => store.saves.get(o.key) !== savesBefore.get(o.key)).map((o) => o.name), [], 'what the catalogue listed was not uploaded again');
  t.equal((await archiver.status()).pendingCount, 0, 'the status shows nothing pending');

  // The binlog stored but not the catalogue (saves of catalogue.json
  // refused): not archived until a committed catalogue lists it, so a
  // second hand-over is refused too, and nothing is purged.
  store.refuse = /catalogue\.json$/;
  await rootSql(a.baseDir, "INSERT INTO shop.t VALUES (6, 'six')");
  const sixGtid = await rootSql(a.baseDir, 'SELECT @@GLOBAL.gtid_binlog_pos');
  const stuck = await waitFor('a hand-over whose catalogue write failed', async () => (driver.last?.error && /catalogue/.test(driver.last.error.message) ? driver.last : undefined), 60_000);
  const held = stuck.pending[0]!.name;
  t.ok(binlogSaves().some(([k]) => k.endsWith(`/${held}`)), `${held} is in the store`);
  const again = await driver.passNow();
  t.match(again?.error?.message, /catalogue/, 'a second hand-over of it is refused too: no committed catalogue lists it');
  t.ok((await binlogsOn(a.baseDir)).includes(held), 'and the binlog stays on the instance');
  store.refuse = undefined;
  await waitFor('archiving to catch up', covering(sixGtid), 60_000);
  await waitFor('the binlog purged once a catalogue lists it', async () => !(await binlogsOn(a.baseDir)).includes(held));
  t.equal(binlogSaves().find(([k]) => k.endsWith(`/${held}`))?.[1], 1, 'uploaded once');
  await driver.stop();
  archiver.close();

  // B: a new instance from the backup, then the archive replayed.
  const objects = catalogue();
  const from = { position: full.metadata!.gtidPosition, timeMs: backupEndMs };
  const b = await startAgent(t, { extraArgs: args });
  await collect(b.clients.lifecycle.prepare({ ...PREPARE, databases: [], restore: { location: full.location, backupId: 'full-1', rewrapped: undefined, target: undefined, archive: undefined } }));
  t.equal(await rows(b.baseDir), '', 'B holds the backup: no rows yet');

  const replayTo = async (cap: MysqlArchiveCapability, target: PointTarget) => {
    const plan = planRestore(objects, binlogTable, from, target);
    return cap.replay(target, AbortSignal.timeout(120_000), { objects: plan.objects, startPosition: from.position, fetch: (name) => fetchVerified(store, objects.find((o) => o.name === name)!, key) });
  };
  const restoreBackup = async (agent: AgentProcess) => {
    await collect(agent.clients.backup.restore({ chain: [full], rewrapped: undefined }));
    return archiveFor(t, agent.baseDir);
  };

  // To a second before the delete.
  const toTime = await replayTo(archiveFor(t, b.baseDir), { kind: 'time', unixSeconds: t1 });
  t.equal(await rows(b.baseDir), '1,2,3', 'to a second before the delete: the rows are there, nothing after');
  t.equal(toTime.timeMs, t1 * 1000, 'reports the time of the last transaction replayed');
  t.ok(reached(toTime.position, await rootSql(a.baseDir, 'SELECT @@GLOBAL.gtid_binlog_pos')) && !reached(deleteGtid, toTime.position), 'reports a position before the delete');

  // To the delete's GTID.
  const toGtid = await replayTo(await restoreBackup(b), { kind: 'position', position: deleteGtid });
  t.equal(await rows(b.baseDir), '1,3', "to the delete's GTID: the delete applied, nothing after it");
  t.equal(toGtid.position, deleteGtid, 'reports the GTID reached');

  // Outside the archive: refused before anything starts, naming the window.
  for (const target of [{ kind: 'time', unixSeconds: t1 - 3600 }, { kind: 'time', unixSeconds: t1 + 3600 }, { kind: 'position', position: '0-1-999999' }] as PointTarget[]) {
    t.throws(() => planRestore(objects, binlogTable, from, target), { kind: 'INVALID_ARGUMENT', message: /restorable from \d{4}-.* to \d{4}-.*GTID/ }, `refused: ${JSON.stringify(target)}`);
  }

  // The archive's latest GTID is itself a target (a binlog's end GTID is the last it holds).
  const { window } = planRestore(objects, binlogTable, from, { kind: 'time', unixSeconds: t1 });
  const toLatest = planRestore(objects, binlogTable, from, { kind: 'position', position: window.latestPosition });
  t.equal(toLatest.objects.at(-1)!.endPosition, window.latestPosition, `the latest archived GTID ${window.latestPosition} is a target, its binlog planned`);

  // A tampered object: the restore stops with an integrity error before applying anything.
  const capB = await restoreBackup(b);
  const tamperTarget: PointTarget = { kind: 'time', unixSeconds: t1 + 1 };
  const victim = path.join(backupDir, planRestore(objects, binlogTable, from, tamperTarget).objects.at(-1)!.key);
  const bytes = readFileSync(victim);
  bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
  writeFileSync(victim, bytes);
  await t.rejects(replayTo(capB, tamperTarget), ofKind('INTEGRITY'), 'the tampered binlog is refused');
  t.equal(await rows(b.baseDir), '', 'nothing of the archive was applied');
  const status = await call(b.clients.lifecycle, 'getStatus', {});
  t.ok(status, 'B still answers');
});
