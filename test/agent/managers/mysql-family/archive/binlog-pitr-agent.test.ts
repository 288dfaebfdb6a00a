// Restore to a point through the agent's gRPC API on real MariaDB servers
// and a real local store: ConfigureArchiving, rows at known seconds and a
// delete, the agent killed (-9) while it archives under a write load and
// started again (the archive catches up, each binlog once, unbroken), then
// new instances prepared from the backup to a second before the delete and
// to the delete's GTID, and a target outside the archive refused naming
// the window before anything starts.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { credentials, status as Status } from '@grpc/grpc-js';
import { call, collect, startAgent, tempBase, waitFor, type AgentProcess } from '../../../../support/agent.js';
import { ArchiveServiceClient, type ArchiveStatus, type GetArchiveStatusResponse } from '../../../../../proto/gen/coffer/agent/v1/archive.js';
import { BackupType, type BackupArtifact, type CreateBackupResponse } from '../../../../../proto/gen/coffer/agent/v1/backup.js';
import { DatastoreState, type GetStatusResponse, type PrepareResponse } from '../../../../../proto/gen/coffer/agent/v1/lifecycle.js';
import { archivePrefixBesideBackup, parseCatalogue } from '../../../../../strategies/archive/layout.js';
import { reached } from '../../../../../agent/managers/mysql-family/replication/gtid.js';
import { binlogTable } from '../../../../../agent/managers/mysql-family/archive/binlog-table.js';
import { rootSql } from './archive-helpers.js';

const PREPARE = { datastoreVersion: '', rootPassword: '', databases: [{ name: 'shop', characterSet: '', collation: '' }], users: [], overrides: {}, restore: undefined, replicaOf: undefined };
const untilSecond = (second: number) => waitFor(`the clock to reach ${second}`, async () => Date.now() >= second * 1000, 10_000);
const rows = (baseDir: string) => rootSql(baseDir, "SELECT COALESCE(GROUP_CONCAT(id ORDER BY id), '') FROM shop.t WHERE id < 100");
const archiveClient = (a: AgentProcess) => new ArchiveServiceClient(a.address, credentials.createInsecure());
const archiveStatus = async (a: AgentProcess): Promise<ArchiveStatus> => {
  const c = archiveClient(a);
  try {
    return (await call<object, GetArchiveStatusResponse>(c, 'getArchiveStatus', {})).status!;
  } finally {
    c.close();
  }
};

t.test('restore to a second and to a GTID through Prepare, after a kill -9 mid-archiving', async (t) => {
  const dir = tempBase('coffer-pitr-maria-agent-');
  const keyFile = path.join(dir, 'backup.key');
  writeFileSync(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  const backupDir = path.join(dir, 'backups');
  const args = ['--backup-dir', backupDir, '--backup-key-file', keyFile];

  let a = await startAgent(t, { extraArgs: args });
  await collect(a.clients.lifecycle.prepare(PREPARE));
  await rootSql(a.baseDir, 'CREATE TABLE shop.t (id INT PRIMARY KEY, note VARCHAR(20)) ENGINE=InnoDB');
  const full = (await collect<CreateBackupResponse>(a.clients.backup.createBackup({ backupId: 'full-1', type: BackupType.BACKUP_TYPE_FULL, strategy: '', parent: undefined, storage: undefined, compression: '' }))).at(-1)!.artifact as BackupArtifact;
  const prefix = archivePrefixBesideBackup(full.location!.location);
  const c = archiveClient(a);
  const configured = await call<object, { status?: ArchiveStatus }>(c, 'configureArchiving', { enabled: true, settings: { storage: { storage: 'local', location: prefix }, keyId: '', archiveTimeoutSeconds: 1, parallelism: 2, compression: 'zstd', retentionDays: 0 } });
  c.close();
  t.equal(configured.status?.enabled, true, 'archiving is on');

  const backupEnd = Math.ceil(Number(full.metadata!.extra?.end_time_ms || Date.now()) / 1000);
  const t1 = backupEnd + 1;
  await untilSecond(t1);
  await rootSql(a.baseDir, `SET TIMESTAMP = ${t1}; INSERT INTO shop.t VALUES (1, 'one'), (2, 'two'), (3, 'three')`);
  await untilSecond(t1 + 1);
  await rootSql(a.baseDir, `SET TIMESTAMP = ${t1 + 1}; DELETE FROM shop.t WHERE id = 2`);
  const deleteGtid = await rootSql(a.baseDir, 'SELECT @@GLOBAL.gtid_binlog_pos');

  // A write load with forced rotations; the agent killed while it archives.
  let writing = true;
  let n = 100;
  const load = (async () => {
    while (writing) await rootSql(a.baseDir, `INSERT INTO shop.t VALUES (${n++}, 'load')${n % 20 === 0 ? '; FLUSH BINARY LOGS' : ''}`).catch(() => undefined);
  })();
  await waitFor('an upload under way', async () => (await archiveStatus(a)).lastArchived !== '', 60_000);
  a.proc.kill('SIGKILL');
  await a.exited;
  a = await startAgent(t, { baseDir: a.baseDir, extraArgs: args });
  await waitFor('the restarted agent to serve', async () => (await call<object, GetStatusResponse>(a.clients.lifecycle, 'getStatus', {})).state === DatastoreState.DATASTORE_STATE_ACTIVE, 120_000);
  writing = false;
  await load;
  const lastGtid = await rootSql(a.baseDir, 'SELECT @@GLOBAL.gtid_binlog_pos');
  const catalogue = () => parseCatalogue(readFileSync(path.join(backupDir, prefix, 'catalogue.json'), 'utf8'), 'test');
  // Caught up: the last write archived and nothing waiting (uploads run in
  // parallel, so a later binlog can be listed before an earlier one is).
  await waitFor('archiving to catch up after the restart', async () => catalogue().objects.some((o) => reached(lastGtid, o.endPosition)) && (await archiveStatus(a)).pendingCount === 0, 120_000);
  const objects = catalogue().objects;
  t.equal(new Set(objects.map((o) => o.name)).size, objects.length, 'each binlog is archived once');
  const broken = objects.slice(1).filter((o, i) => !binlogTable.follows(objects[i]!, o)).map((o) => o.name);
  t.same(broken, [], 'the archived binlogs follow each other with nothing missing');
  const s = await waitFor('nothing pending', async () => {
    const st = await archiveStatus(a);
    return st.pendingCount === 0 ? st : undefined;
  });
  t.ok(s.lastArchived, 'GetArchiveStatus names the last archived binlog');

  // B: to a second before the delete.
  const b = await startAgent(t, { extraArgs: args });
  const events = await collect<PrepareResponse>(b.clients.lifecycle.prepare({ ...PREPARE, databases: [], restore: { location: full.location, backupId: 'full-1', rewrapped: undefined, target: { timeUnixSeconds: t1 }, archive: undefined } }));
  t.equal(events.at(-1)?.result?.state, DatastoreState.DATASTORE_STATE_ACTIVE, 'B is ACTIVE');
  t.equal(await rows(b.baseDir), '1,2,3', 'to a second before the delete: the rows are there, nothing after');
  const bs = await call<object, GetStatusResponse>(b.clients.lifecycle, 'getStatus', {});
  t.equal(Number(bs.restoredPoint?.timeMs), t1 * 1000, 'GetStatus reports the time reached');

  // C: to the delete's GTID; D: outside the archive, refused before anything starts.
  const cAgent = await startAgent(t, { extraArgs: args });
  await collect(cAgent.clients.lifecycle.prepare({ ...PREPARE, databases: [], restore: { location: full.location, backupId: 'full-1', rewrapped: undefined, target: { gtid: deleteGtid }, archive: undefined } }));
  t.equal(await rows(cAgent.baseDir), '1,3', "to the delete's GTID: the delete applied, nothing after it");
  const d = await startAgent(t, { extraArgs: args });
  await t.rejects(
    collect(d.clients.lifecycle.prepare({ ...PREPARE, databases: [], restore: { location: full.location, backupId: 'full-1', rewrapped: undefined, target: { timeUnixSeconds: t1 - 3600 }, archive: undefined } })),
    { code: Status.INVALID_ARGUMENT, details: /restorable from .* to .*GTID/ },
    'a target before the backup is refused, naming the window',
  );
  const ds = await call<object, GetStatusResponse>(d.clients.lifecycle, 'getStatus', {});
  t.not(ds.state, DatastoreState.DATASTORE_STATE_ACTIVE, 'nothing was built');
});
