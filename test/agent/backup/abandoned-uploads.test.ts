// An agent killed (SIGKILL) in the middle of uploading a backup cannot clean
// up after itself: its partial file (local), its Swift segments or its S3
// multipart upload stay in the store. When the agent starts again it removes
// them, for each store, while a backup that finished stays whole.
import t from 'tap';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { startAgent, call, collect, tempBase, waitFor, type AgentProcess } from '../../support/agent.js';
import { seed } from '../../support/dataset.js';
import { startSwift, SwiftProbe } from '../../support/swift.js';
import { holdMidUpload, localPartials, s3Uploads, swiftSegments, untilEmpty } from '../../support/abandoned-upload.js';
import { createS3Client } from '../../../strategies/storage/s3-client.js';
import { BackupType, type CreateBackupResponse } from '../../../proto/gen/coffer/agent/v1/backup.js';
import { DatastoreState, type GetStatusResponse } from '../../../proto/gen/coffer/agent/v1/lifecycle.js';

t.setTimeout(900_000);

const EMPTY_PREPARE = { datastoreVersion: '', rootPassword: '', databases: [], users: [], overrides: {}, restore: undefined, replicaOf: undefined };

t.test('an agent killed mid-upload removes what it left in local, Swift and S3 storage when it starts again', async (t) => {
  const saio = await startSwift(t);
  const probe = new SwiftProbe(saio);
  const dir = tempBase('coffer-abandoned-');
  const keyFile = path.join(dir, 'backup.key');
  writeFileSync(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  const backupDir = path.join(dir, 'backups');
  const container = `coffer-${randomBytes(4).toString('hex')}`;
  const bucket = `coffer-${randomBytes(4).toString('hex')}`;
  const connection = { endpoint: saio.s3Endpoint, region: saio.s3Region, forcePathStyle: true, credentials: { accessKeyId: saio.s3AccessKey, secretAccessKey: saio.s3SecretKey } };
  const s3 = createS3Client(connection);
  t.teardown(() => s3.destroy());
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const config = path.join(dir, 'agent.json');
  writeFileSync(
    config,
    JSON.stringify({
      backup: {
        storages: {
          swift: { auth: { kind: 'tempauth', authUrl: saio.authUrl, user: saio.user, key: saio.key }, container, segmentSize: 1024 * 1024 },
          s3: { connection, bucket, partSize: 5 * 1024 * 1024, concurrency: 2 },
        },
      },
    }),
    { mode: 0o600 },
  );
  const args = ['--config', config, '--backup-dir', backupDir, '--backup-key-file', keyFile];
  const baseDir = path.join(tempBase(), 'base');
  let agent: AgentProcess = await startAgent(t, { baseDir, extraArgs: args });
  await collect(agent.clients.lifecycle.prepare(EMPTY_PREPARE));
  // About 30 MB stored (no compression): many segments, several parts.
  await seed(baseDir, 'big', 150000);
  // The local store's folder exists before the backup, so its partial file shows at once.
  mkdirSync(path.join(backupDir, 'standalone'), { recursive: true, mode: 0o700 });

  // One finished backup in each store: what an agent sweeps must not touch them.
  const kept: Record<string, string> = {};
  for (const storage of ['local', 'swift', 's3']) {
    const events = await collect<CreateBackupResponse>(agent.clients.backup.createBackup({ backupId: `kept-${storage}`, type: BackupType.BACKUP_TYPE_FULL, strategy: '', parent: undefined, storage: { storage, location: '' }, compression: 'none' }));
    kept[storage] = events.at(-1)!.artifact!.location!.location;
  }
  const keptSegments = (await swiftSegments(probe, `${container}_segments`, 'standalone/kept-')).length;
  t.ok(keptSegments > 3, `the finished Swift backup is ${keptSegments} segments`);

  const stores = [
    { storage: 'local', leftovers: async () => localPartials(backupDir) },
    { storage: 'swift', leftovers: () => swiftSegments(probe, `${container}_segments`, 'standalone/killed-') },
    { storage: 's3', leftovers: () => s3Uploads(s3, bucket) },
  ];
  const outer = t;
  for (const { storage, leftovers } of stores) {
    await t.test(`${storage}: killed mid-upload, then started again`, async (t) => {
      const stream = agent.clients.backup.createBackup({ backupId: `killed-${storage}`, type: BackupType.BACKUP_TYPE_FULL, strategy: '', parent: undefined, storage: { storage, location: '' }, compression: 'none' });
      let ended: Error | 'completed' | null = null;
      const outcome = collect<CreateBackupResponse>(stream).then(
        () => (ended = 'completed'),
        (e: Error) => (ended = e),
      );
      const tool = await holdMidUpload(baseDir, async () => (await leftovers()).length > 0, () => ended);
      const left = await leftovers();
      t.ok(left.length > 0, `mid-upload, the store holds part of it: ${left.slice(0, 3).join(', ')}`);
      process.kill(agent.proc.pid!, 'SIGKILL');
      await agent.exited;
      process.kill(tool, 'SIGKILL');
      t.type(await outcome, Error, 'the backup call failed with the agent');
      t.ok((await leftovers()).length > 0, 'a killed agent leaves its upload in the store');

      // Stopped with the outer test: the next store's case uses this agent.
      agent = await startAgent(outer, { baseDir, datastorePort: agent.datastorePort, extraArgs: args });
      t.same(await untilEmpty(leftovers), [], 'the agent started again removed it');
      await waitFor('the datastore ACTIVE again', async () => (await call<object, GetStatusResponse>(agent.clients.lifecycle, 'getStatus', {})).state === DatastoreState.DATASTORE_STATE_ACTIVE);
    });
  }

  t.ok(existsSync(path.join(backupDir, kept.local!)), 'the finished local backup is still there');
  t.ok(await probe.head(kept.swift!), 'the finished Swift backup is still there');
  t.equal((await swiftSegments(probe, `${container}_segments`, 'standalone/kept-')).length, keptSegments, 'with all its segments');
  t.ok(await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: kept.s3!.slice(bucket.length + 1) })), 'the finished S3 backup is still there');
});
