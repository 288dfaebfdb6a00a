// A backup whose agent is killed (SIGKILL) in the middle of its upload ends
// FAILED, and the control, as it marks it so, removes what the upload left
// in the store: the partial file (local), the Swift segments, the S3
// multipart upload. The agent stays dead: the store is clean without it.
import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '../../../strategies/storage/s3-client.js';
import { agentPids, startControl } from '../../support/control.js';
import { tempBase } from '../../support/agent.js';
import { mariadb } from '../../support/mariadb-client.js';
import { restClient, troveSteps, waitBackup, waitInstance } from '../../support/openstack/rest.js';
import { startSwift, SwiftProbe, type SwiftSaio } from '../../support/swift.js';
import { holdMidUpload, localPartials, s3Uploads, swiftSegments, untilEmpty } from '../../support/abandoned-upload.js';

t.setTimeout(900_000);

interface Store {
  /** --backup-storage contents; none: local. */
  readonly file?: object;
  readonly leftovers: (dataDir: string) => Promise<string[]>;
}

async function killedMidUpload(t: Test, store: Store): Promise<void> {
  let storageFile: string | undefined;
  if (store.file) {
    storageFile = path.join(tempBase('coffer-storage-'), 'backup-storage.json');
    writeFileSync(storageFile, JSON.stringify(store.file), { mode: 0o600 });
  }
  const control = await startControl(t, { backupStorage: storageFile });
  const token = control.token('shop');
  const request = restClient(control.restPort);
  const steps = troveSteps(t, request, 'shop', token);
  const inst = await steps.create('ledger', { datastore: { type: 'mariadb', version: '10.11' }, databases: [{ name: 'ledger' }], users: [{ name: 'app', password: 'App-pass-1', databases: [{ name: 'ledger' }] }] });
  // About 30 MB that compression cannot shrink: many segments, several parts.
  const fill = await mariadb(Number(inst.port), 'app', 'App-pass-1', 'CREATE TABLE noise (v INT PRIMARY KEY, pad VARBINARY(255)); INSERT INTO noise SELECT seq, RANDOM_BYTES(255) FROM seq_1_to_120000', 'ledger');
  t.equal(fill.code, 0, `the table is filled ${fill.stderr}`);

  const r = await request('POST', '/v1.0/shop/backups', { token, body: { backup: { name: 'doomed', instance: inst.id } } });
  t.equal(r.status, 202, `the backup is accepted (${r.status})`);
  const id = String(r.body?.backup?.id);
  const leftovers = () => store.leftovers(control.dataDir);
  const tool = await holdMidUpload(path.join(control.dataDir, 'instances', String(inst.id)), async () => (await leftovers()).length > 0);
  t.ok((await leftovers()).length > 0, 'mid-upload, the store holds part of the backup');
  const [agent] = agentPids(control.dataDir);
  t.ok(agent, 'the agent runs');
  process.kill(agent!, 'SIGKILL');
  process.kill(tool, 'SIGKILL');

  const failed = await waitBackup(request, 'shop', token, id);
  t.equal(failed.status, 'FAILED', 'the backup ends FAILED');
  t.same(await untilEmpty(leftovers), [], 'the control removed what the upload left');
  t.same(agentPids(control.dataDir), [], 'without the agent starting again');
  await waitInstance(request, 'shop', token, String(inst.id), (i) => i?.status !== 'BACKUP');
}

t.test('local storage', (t) => killedMidUpload(t, { leftovers: async (dataDir) => localPartials(path.join(dataDir, 'backups')) }));

t.test('Swift and S3', async (t) => {
  const saio: SwiftSaio = await startSwift(t);
  const probe = new SwiftProbe(saio);
  const container = `coffer-${randomBytes(4).toString('hex')}`;
  await t.test('Swift', (t) =>
    killedMidUpload(t, {
      file: { defaultStorage: 'swift', storages: { swift: { auth: { kind: 'tempauth', authUrl: saio.authUrl, user: saio.user, key: saio.key }, container, segmentSize: 1024 * 1024 } } },
      leftovers: () => swiftSegments(probe, `${container}_segments`),
    }),
  );

  const connection = { endpoint: saio.s3Endpoint, region: saio.s3Region, forcePathStyle: true, credentials: { accessKeyId: saio.s3AccessKey, secretAccessKey: saio.s3SecretKey } };
  const s3 = createS3Client(connection);
  t.teardown(() => s3.destroy());
  const bucket = `coffer-${randomBytes(4).toString('hex')}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await t.test('S3', (t) =>
    killedMidUpload(t, {
      file: { defaultStorage: 's3', storages: { s3: { connection, bucket, partSize: 5 * 1024 * 1024, concurrency: 2 } } },
      leftovers: () => s3Uploads(s3, bucket),
    }),
  );
});
