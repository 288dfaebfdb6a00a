// Point-in-time recovery for PostgreSQL with the archive in the test Swift
// (SAIO): WAL archived through the agent to Swift objects with their range
// as X-Object-Meta-*, then a new instance restored to a second before a
// DELETE from the backup and the archive there; then the same source
// switched to archive to S3 (the SAIO's s3api), a base backup there, and a
// new instance restored to a time from the S3 archive. The local-storage
// walk (archive.test.ts) covers the failures; this covers the stores.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { startAgent, call, collect, tempBase, waitFor, type AgentProcess } from '../../../support/agent.js';
import { startSwift } from '../../../support/swift.js';
import { CreateBucketCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '../../../../strategies/storage/s3-client.js';
import { psql, psqlAdmin, SHOP_PREPARE } from '../../../support/psql.js';
import { ArchiveServiceClient, type ArchiveStatus, type GetArchiveStatusResponse } from '../../../../proto/gen/coffer/agent/v1/archive.js';
import { BackupType, type CreateBackupResponse } from '../../../../proto/gen/coffer/agent/v1/backup.js';
import { DatastoreState, type PrepareResponse } from '../../../../proto/gen/coffer/agent/v1/lifecycle.js';

const lsnValue = (lsn: string): bigint => {
  const [hi, lo] = lsn.split('/');
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
};

async function nextSecond(): Promise<number> {
  const s = Math.floor(Date.now() / 1000) + 1;
  await waitFor('the next second', async () => Date.now() >= s * 1000 + 50);
  return s;
}

t.test('PostgreSQL archive and restore to a time in Swift, then in S3', async (t) => {
  const swift = await startSwift(t);
  const dir = tempBase('coffer-pitr-swift-');
  t.teardown(() => import('node:fs').then((fs) => fs.rmSync(dir, { recursive: true, force: true })));
  const keyFile = path.join(dir, 'backup.key');
  writeFileSync(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  const config = path.join(dir, 'agent.json');
  const container = `coffer-pitr-${process.pid}`;
  // An S3 bucket is a Swift container under s3api: a name of its own.
  const bucket = `coffer-pitr-s3-${process.pid}`;
  const s3Connection = { endpoint: swift.s3Endpoint, region: swift.s3Region, forcePathStyle: true, credentials: { accessKeyId: swift.s3AccessKey, secretAccessKey: swift.s3SecretKey } };
  writeFileSync(
    config,
    JSON.stringify({
      backup: {
        defaultStorage: 'swift',
        storages: {
          swift: { auth: { kind: 'tempauth', authUrl: swift.authUrl, user: swift.user, key: swift.key }, container, segmentSize: 4 * 1024 * 1024 },
          s3: { connection: s3Connection, bucket, partSize: 5 * 1024 * 1024, concurrency: 2 },
        },
      },
    }),
    { mode: 0o600 },
  );
  const args = ['--config', config, '--backup-key-file', keyFile];
  const src = await startAgent(t, { datastore: 'postgresql', extraArgs: [...args, '--instance-id', 'pitr-swift'] });
  await collect(src.clients.lifecycle.prepare(SHOP_PREPARE));
  const arc = new ArchiveServiceClient(src.address, credentials.createInsecure());
  t.teardown(() => arc.close());
  await call(arc, 'configureArchiving', { enabled: true, settings: { storage: undefined, keyId: '', archiveTimeoutSeconds: 60, parallelism: 2, compression: '', retentionDays: 0 } });
  const alice = (a: AgentProcess, sql: string) => psql(a.datastorePort, 'alice', 'Al1ce-pass', sql, 'shop');
  await alice(src, 'CREATE TABLE items (id int PRIMARY KEY, note text)');
  const backup = (await collect<CreateBackupResponse>(src.clients.backup.createBackup({ backupId: 'base', type: BackupType.BACKUP_TYPE_FULL, strategy: '', parent: undefined, storage: undefined, compression: '' }))).at(-1)!.artifact!;
  t.equal(backup.location?.storage, 'swift', 'the base backup is in Swift');
  await nextSecond();
  await alice(src, "INSERT INTO items SELECT g, 'kept' FROM generate_series(1, 7) g");
  const target = await nextSecond();
  await nextSecond();
  await alice(src, 'DELETE FROM items');
  const lsn = (await psqlAdmin(src.baseDir, src.datastorePort, 'SELECT txid_current(); SELECT pg_current_wal_lsn(); SELECT pg_switch_wal()', 'shop')).stdout.split('\n')[1]!;
  const st = await waitFor('the archive to pass the DELETE', async () => {
    const s = (await call<object, GetArchiveStatusResponse>(arc, 'getArchiveStatus', {})).status as ArchiveStatus;
    return s.pendingCount === 0 && s.archived && s.archived.latestTimeMs >= target * 1000 && lsnValue(s.archived.latestPosition) > lsnValue(lsn) ? s : undefined;
  }, 120_000);
  t.equal(st.storage?.storage, 'swift', 'archived to Swift');
  const auth = await fetch(swift.authUrl, { headers: { 'X-Auth-User': swift.user, 'X-Auth-Key': swift.key } });
  const head = await fetch(`${auth.headers.get('x-storage-url')}/${container}/pitr-swift/archive/wal/${st.lastArchived}`, { method: 'HEAD', headers: { 'X-Auth-Token': auth.headers.get('x-auth-token')! } });
  t.equal(head.status, 200, `segment ${st.lastArchived} is a Swift object`);
  t.equal(head.headers.get('x-object-meta-coffer-archive-name'), st.lastArchived, 'with its range as object metadata');

  const back = await startAgent(t, { datastore: 'postgresql', extraArgs: args });
  const done = await collect<PrepareResponse>(back.clients.lifecycle.prepare({ ...SHOP_PREPARE, users: [], databases: [], restore: { location: backup.location, backupId: 'base', rewrapped: undefined, target: { timeUnixSeconds: target }, archive: undefined } }));
  t.equal(done.at(-1)?.result?.state, DatastoreState.DATASTORE_STATE_ACTIVE, 'restored to a time from Swift');
  t.equal((await alice(back, 'SELECT count(*) FROM items')).stdout, '7', 'the rows before the DELETE are there');

  // S3: the same source now archives to the bucket (a reload, no restart).
  const s3 = createS3Client(s3Connection);
  t.teardown(() => s3.destroy());
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const toS3 = (await call<object, { status?: ArchiveStatus }>(arc, 'configureArchiving', { enabled: true, settings: { storage: { storage: 's3', location: '' }, keyId: '', archiveTimeoutSeconds: 60, parallelism: 2, compression: '', retentionDays: 0 } })).status;
  t.match(toS3?.storage, { storage: 's3', location: 'pitr-swift/archive' }, 'archiving goes to S3 now');
  const s3Backup = (await collect<CreateBackupResponse>(src.clients.backup.createBackup({ backupId: 's3base', type: BackupType.BACKUP_TYPE_FULL, strategy: '', parent: undefined, storage: { storage: 's3', location: '' }, compression: '' }))).at(-1)!.artifact!;
  t.equal(s3Backup.location?.storage, 's3', 'a base backup in S3');
  await nextSecond();
  await alice(src, "INSERT INTO items SELECT g, 'kept in S3' FROM generate_series(1, 3) g");
  const s3Target = await nextSecond();
  await nextSecond();
  await alice(src, 'DELETE FROM items');
  const s3Lsn = (await psqlAdmin(src.baseDir, src.datastorePort, 'SELECT txid_current(); SELECT pg_current_wal_lsn(); SELECT pg_switch_wal()', 'shop')).stdout.split('\n')[1]!;
  const s3St = await waitFor('the S3 archive to pass the second DELETE', async () => {
    const s = (await call<object, GetArchiveStatusResponse>(arc, 'getArchiveStatus', {})).status as ArchiveStatus;
    return s.pendingCount === 0 && s.archived && s.archived.latestTimeMs >= s3Target * 1000 && lsnValue(s.archived.latestPosition) > lsnValue(s3Lsn) ? s : undefined;
  }, 120_000);
  const object = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `pitr-swift/archive/wal/${s3St.lastArchived}` }));
  t.equal(object.Metadata?.['coffer-archive-name'], s3St.lastArchived, `segment ${s3St.lastArchived} is an S3 object with its range as x-amz-meta-*`);

  const fromS3 = await startAgent(t, { datastore: 'postgresql', extraArgs: args });
  const s3Done = await collect<PrepareResponse>(fromS3.clients.lifecycle.prepare({ ...SHOP_PREPARE, users: [], databases: [], restore: { location: s3Backup.location, backupId: 's3base', rewrapped: undefined, target: { timeUnixSeconds: s3Target }, archive: undefined } }));
  t.equal(s3Done.at(-1)?.result?.state, DatastoreState.DATASTORE_STATE_ACTIVE, 'restored to a time from S3');
  t.equal((await alice(fromS3, "SELECT count(*) FROM items WHERE note = 'kept in S3'")).stdout, '3', 'the rows before the second DELETE are there');
});
