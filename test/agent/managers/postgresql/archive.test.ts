// Point-in-time recovery for PostgreSQL through the agent's gRPC API, against
// real servers and real local storage (issue 18, docs/pitr.md). One source
// instance archives its WAL through curl and the agent's socket; it is walked
// through the store going away and coming back, and a kill -9 of its agent
// while segments are uploading; then new instances are prepared from its base
// backup plus a target: a time a second before a DELETE, an LSN, a target
// outside the archive (refused before anything starts), and an archive with a
// tampered segment (an integrity error, nothing promoted).
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { credentials, status as Status, type ServiceError } from '@grpc/grpc-js';
import { startAgent, call, collect, tempBase, waitFor, type AgentProcess } from '../../../support/agent.js';
import { psql, psqlAdmin, SHOP_PREPARE } from '../../../support/psql.js';
import { ArchiveServiceClient, type ArchiveStatus, type GetArchiveStatusResponse, type GetRestorableWindowResponse } from '../../../../proto/gen/coffer/agent/v1/archive.js';
import { BackupType, type BackupArtifact, type CreateBackupResponse } from '../../../../proto/gen/coffer/agent/v1/backup.js';
import { DatastoreState, type GetStatusResponse, type PrepareResponse } from '../../../../proto/gen/coffer/agent/v1/lifecycle.js';

const dir = tempBase('coffer-pitr-');
t.teardown(() => import('node:fs').then((fs) => fs.rmSync(dir, { recursive: true, force: true })));
const keyFile = path.join(dir, 'backup.key');
writeFileSync(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
const backupDir = path.join(dir, 'backups');
const deployArgs = ['--backup-dir', backupDir, '--backup-key-file', keyFile];

const archiveClient = (a: AgentProcess): ArchiveServiceClient => {
  const c = new ArchiveServiceClient(a.address, credentials.createInsecure());
  t.teardown(() => c.close());
  return c;
};
const archiveStatus = async (c: ArchiveServiceClient): Promise<ArchiveStatus> => (await call<object, GetArchiveStatusResponse>(c, 'getArchiveStatus', {})).status!;
const alice = (a: AgentProcess, sql: string) => psql(a.datastorePort, 'alice', 'Al1ce-pass', sql, 'shop');
async function admin(a: AgentProcess, sql: string): Promise<string> {
  const r = await psqlAdmin(a.baseDir, a.datastorePort, sql, 'shop');
  if (r.code !== 0) throw new Error(`psql: ${r.stderr}`);
  return r.stdout;
}
/** Waits until every closed segment is archived (nothing pending), after a switch to close the current one. */
async function archivedUpTo(a: AgentProcess, c: ArchiveServiceClient, lsn: string): Promise<ArchiveStatus> {
  // A transaction first: a switch with nothing written since the last one does nothing.
  await admin(a, 'SELECT txid_current(); SELECT pg_switch_wal()');
  return waitFor(`WAL up to ${lsn} archived`, async () => {
    const s = await archiveStatus(c);
    return s.pendingCount === 0 && s.archived && lsnValue(s.archived.latestPosition) > lsnValue(lsn) ? s : undefined;
  }, 120_000);
}
const lsnValue = (lsn: string): bigint => {
  const [hi, lo] = lsn.split('/');
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
};
/** Waits for the wall clock to pass into the next whole second; resolves that second (Unix seconds). */
async function nextSecond(): Promise<number> {
  const s = Math.floor(Date.now() / 1000) + 1;
  await waitFor('the next second', async () => Date.now() >= s * 1000 + 50);
  return s;
}

const PREPARE = { ...SHOP_PREPARE, users: [], databases: [] };
const prepareTo = (a: AgentProcess, backup: BackupArtifact, target: object) =>
  collect<PrepareResponse>(a.clients.lifecycle.prepare({ ...PREPARE, restore: { location: backup.location, backupId: backup.metadata!.backupId, rewrapped: undefined, target, archive: undefined } }));

t.test('PostgreSQL WAL archiving and restore to a point', async (t) => {
  // The source: prepared, archiving on, one base backup.
  const src = await startAgent(t, { datastore: 'postgresql', extraArgs: [...deployArgs, '--instance-id', 'pitr-src', '--metrics-listen', '127.0.0.1:0'] });
  const metricsPort = (JSON.parse(src.logs.find((l) => l.includes('"metricsPort"'))!) as { metricsPort: number }).metricsPort;
  await collect(src.clients.lifecycle.prepare(SHOP_PREPARE));
  const arc = archiveClient(src);
  const configured = await call<object, { status: ArchiveStatus }>(arc, 'configureArchiving', { enabled: true, settings: { storage: undefined, keyId: '', archiveTimeoutSeconds: 60, parallelism: 3, compression: '', retentionDays: 0 } });
  t.equal(configured.status.enabled, true, 'archiving is on');
  t.equal(await admin(src, 'SHOW archive_timeout'), '1min', 'archive_timeout is rendered and reloaded');
  await alice(src, 'CREATE TABLE items (id int PRIMARY KEY, note text, at timestamptz DEFAULT clock_timestamp())');
  const events = await collect<CreateBackupResponse>(src.clients.backup.createBackup({ backupId: 'base', type: BackupType.BACKUP_TYPE_FULL, strategy: '', parent: undefined, storage: undefined, compression: '' }));
  const backup = events.at(-1)!.artifact!;

  // Rows with known times; a DELETE a second later; a row after it.
  await nextSecond();
  await alice(src, "INSERT INTO items (id, note) SELECT g, 'kept' FROM generate_series(1, 20) g");
  const lsnAfterInsert = await admin(src, 'SELECT pg_current_wal_lsn()');
  const beforeDelete = await nextSecond();
  await nextSecond();
  await alice(src, 'DELETE FROM items WHERE id > 10');
  await alice(src, "INSERT INTO items (id, note) VALUES (100, 'after the delete')");
  const lsnAfterDelete = await admin(src, 'SELECT pg_current_wal_lsn()');
  let st = await archivedUpTo(src, arc, lsnAfterDelete);
  t.ok(st.lastArchived.match(/^[0-9A-F]{24}$/), `the last segment archived is named (${st.lastArchived})`);
  t.ok(st.localLogBytes > 0, 'pg_wal size is reported');
  const status = await call<object, GetStatusResponse>(src.clients.lifecycle, 'getStatus', {});
  t.equal(status.archive?.enabled, true, 'GetStatus carries the archive status');

  // The store goes away: archiving falls behind and says so; PostgreSQL keeps the WAL.
  const away = `${backupDir}.away`;
  renameSync(backupDir, away);
  writeFileSync(backupDir, 'not a directory');
  await alice(src, "INSERT INTO items (id, note) VALUES (200, 'while the store was away')");
  const lsnWhileAway = await admin(src, 'SELECT pg_current_wal_lsn()');
  await admin(src, 'SELECT pg_switch_wal()');
  st = await waitFor('archiving to report the failure', async () => {
    const s = await archiveStatus(arc);
    return s.lastError && s.pendingCount > 0 ? s : undefined;
  }, 120_000).catch((e) => {
    console.error(src.logs.join('').slice(-6000));
    throw e;
  });
  t.match(st.lastError, /archiving [0-9A-F]{24} failed/, `the failure is reported: ${st.lastError.slice(0, 120)}`);
  const scraped = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  t.match(scraped, /^coffer_agent_archive_pending_files [1-9]/m, 'the pending segments are in /metrics');
  t.match(scraped, /^coffer_agent_archive_lag_seconds \d/m, 'and the lag');
  const ready = await admin(src, "SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'");
  t.ok(Number(ready) > 0, 'PostgreSQL keeps the unarchived segments');
  // Back: it catches up (a new segment wakes PostgreSQL's archiver).
  (await import('node:fs')).rmSync(backupDir);
  renameSync(away, backupDir);
  st = await archivedUpTo(src, arc, lsnWhileAway);
  t.equal(st.pendingCount, 0, 'archiving caught up after the store came back');
  t.equal(st.lastError, '', 'and the error is cleared');

  // kill -9 of the agent while segments are uploading, then a restart.
  await alice(src, "INSERT INTO items (id, note) SELECT g, 'bulk' FROM generate_series(1000, 60000) g");
  for (let i = 0; i < 3; i++) await admin(src, "INSERT INTO items (id, note) VALUES (" + (300 + i) + ", 'x'); SELECT pg_switch_wal()");
  const lsnAtKill = await admin(src, 'SELECT pg_current_wal_lsn()');
  src.proc.kill('SIGKILL');
  await src.exited;
  const again = await startAgent(t, { datastore: 'postgresql', baseDir: src.baseDir, datastorePort: src.datastorePort, extraArgs: [...deployArgs, '--instance-id', 'pitr-src'] });
  const arc2 = archiveClient(again);
  await waitFor('the source to run again', async () => (await call<object, GetStatusResponse>(again.clients.lifecycle, 'getStatus', {})).state === DatastoreState.DATASTORE_STATE_ACTIVE);
  st = await archivedUpTo(again, arc2, lsnAtKill);
  const fromBackup = await call<object, GetRestorableWindowResponse>(arc2, 'getRestorableWindow', {
    archive: undefined,
    backupEndPosition: backup.metadata!.stopLsn,
    backupEndTimeMs: Number(backup.metadata!.extra.end_time_ms),
  });
  t.ok(lsnValue(fromBackup.window!.latestPosition) > lsnValue(lsnAtKill), `the archive is unbroken from the backup past the kill (${fromBackup.window!.earliestPosition} to ${fromBackup.window!.latestPosition})`);

  // Retention: everything is older than a cutoff a day ahead, but only what
  // ends before the kept backup began may go.
  const pruned = await call<object, { deleted: number; remaining: { earliestPosition: string } }>(arc2, 'pruneArchive', {
    archive: undefined,
    beforeTimeMs: Date.now() + 86_400_000,
    beforePosition: backup.metadata!.startLsn,
  });
  t.ok(pruned.deleted >= 1, `PruneArchive deleted the ${pruned.deleted} segment(s) before the backup`);
  t.notOk(existsSync(path.join(backupDir, 'pitr-src', 'archive', 'wal', '000000010000000000000001')), 'the segment before the backup is gone from the store');
  const afterPrune = await call<object, GetRestorableWindowResponse>(arc2, 'getRestorableWindow', {
    archive: undefined,
    backupEndPosition: backup.metadata!.stopLsn,
    backupEndTimeMs: Number(backup.metadata!.extra.end_time_ms),
  });
  t.same(afterPrune.window, fromBackup.window, 'what the kept backup needs is all still there');

  // Restore to a second before the DELETE.
  const toTime = await startAgent(t, { datastore: 'postgresql', extraArgs: deployArgs });
  const prepared = await prepareTo(toTime, backup, { timeUnixSeconds: beforeDelete });
  t.equal(prepared.at(-1)?.result?.state, DatastoreState.DATASTORE_STATE_ACTIVE, 'restored to a time and running');
  t.ok(prepared.some((e) => e.progress?.phase === 'replay'), 'Prepare reports the replay');
  t.equal((await alice(toTime, 'SELECT count(*) FROM items')).stdout, '20', 'the 20 rows before the DELETE are there');
  t.equal((await alice(toTime, 'SELECT count(*) FROM items WHERE id >= 100')).stdout, '0', 'nothing after the target is');
  t.equal((await alice(toTime, "INSERT INTO items (id, note) VALUES (7000, 'writable') RETURNING id")).stdout, '7000', 'promoted: it takes writes');
  const restored = await call<object, GetStatusResponse>(toTime.clients.lifecycle, 'getStatus', {});
  t.ok(restored.restoredPoint?.position, `GetStatus says how far the replay got (${restored.restoredPoint?.position})`);

  const other = await startAgent(t, { datastore: 'postgresql', extraArgs: deployArgs });
  // A target outside the archive: refused before anything starts, naming the window.
  const err = (await prepareTo(other, backup, { timeUnixSeconds: Math.floor(Date.now() / 1000) + 3600 }).catch((e: ServiceError) => e)) as ServiceError;
  t.equal(err.code, Status.INVALID_ARGUMENT, 'a target after the archive is INVALID_ARGUMENT');
  t.match(err.details, /outside the archive: restorable from \d{4}-\d\d-\d\dT\S+Z to \d{4}-\d\d-\d\dT\S+Z/, `and names the window: ${err.details}`);
  t.equal((await call<object, GetStatusResponse>(other.clients.lifecycle, 'getStatus', {})).state, DatastoreState.DATASTORE_STATE_NEW, 'nothing started');

  // A tampered segment: the restore stops with an integrity error.
  const segment = await admin(again, `SELECT pg_walfile_name('${lsnAfterInsert}')`);
  const object = path.join(backupDir, 'pitr-src', 'archive', 'wal', segment);
  t.ok(existsSync(object), `segment ${segment} is archived as an object`);
  const original = readFileSync(object);
  const bad = Buffer.from(original);
  bad[Math.floor(bad.length / 2)]! ^= 0x01;
  writeFileSync(object, bad);
  const tampered = (await prepareTo(other, backup, { timeUnixSeconds: beforeDelete }).catch((e: ServiceError) => e)) as ServiceError;
  t.equal(tampered.code, Status.DATA_LOSS, 'a tampered segment stops the restore with DATA_LOSS');
  t.match(tampered.details, new RegExp(`archived WAL segment ${segment} .*failed its integrity check`), `naming the segment: ${tampered.details.slice(0, 200)}`);
  writeFileSync(object, original);

  // To an LSN: just after the INSERT, before the DELETE.
  const toLsn = await prepareTo(other, backup, { lsn: lsnAfterInsert });
  t.equal(toLsn.at(-1)?.result?.state, DatastoreState.DATASTORE_STATE_ACTIVE, 'restored to an LSN and running');
  t.equal((await alice(other, 'SELECT count(*) FROM items')).stdout, '20', 'the rows up to the LSN are there, the DELETE is not applied');
  t.equal((await alice(other, 'SELECT count(*) FROM items WHERE id >= 100')).stdout, '0', 'nothing after the LSN is');
});
