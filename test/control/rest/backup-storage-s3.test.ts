// A deployment that keeps its backups in S3 (--backup-storage with
// "defaultStorage": "s3"), against a real S3 API (Swift's s3api): a Redis
// backup lands in the bucket with its metadata object, an instance restored
// from it holds the key, and deleting the backup empties the bucket.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { CreateBucketCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { createS3Client } from '../../../strategies/storage/s3-client.js';
import { startControl } from '../../support/control.js';
import { tempBase } from '../../support/agent.js';
import { redisCli } from '../../support/redis-cli.js';
import { restClient, troveSteps } from '../../support/openstack/rest.js';
import { startSwift } from '../../support/swift.js';

t.setTimeout(600_000);

t.test('backups in S3: create, restore, delete', async (t) => {
  const saio = await startSwift(t);
  const connection = {
    endpoint: saio.s3Endpoint,
    region: saio.s3Region,
    forcePathStyle: true,
    credentials: { accessKeyId: saio.s3AccessKey, secretAccessKey: saio.s3SecretKey },
  };
  const s3 = createS3Client(connection);
  t.teardown(() => s3.destroy());
  const bucket = `coffer-${randomBytes(4).toString('hex')}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const keys = async (): Promise<string[]> => ((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key!).sort();

  const storageFile = path.join(tempBase('coffer-storage-'), 'backup-storage.json');
  writeFileSync(storageFile, JSON.stringify({ defaultStorage: 's3', storages: { s3: { connection, bucket } } }), { mode: 0o600 });
  const control = await startControl(t, { backupStorage: storageFile });
  const token = control.token('shop');
  const request = restClient(control.restPort);
  const { create, backup } = troveSteps(t, request, 'shop', token);
  const root = async (id: unknown): Promise<string> => {
    const r = await request('POST', `/v1.0/shop/instances/${String(id)}/root`, { token });
    t.equal(r.status, 200, `root enable: ${r.text}`);
    return String(r.body.user.password);
  };

  const source = await create('cache', { datastore: { type: 'redis', version: '7.0' } });
  const set = await redisCli(Number(source.port), '', await root(source.id), ['SET', 'greeting', 'kept in S3'], { ca: control.datastoreCa });
  t.equal(set.stdout.trim(), 'OK', set.stderr);

  const full = await backup('cache-full', String(source.id));
  t.equal(full.storage_driver, 's3', 'the backup went to the configured store');
  const location = String(full.locationRef);
  t.match(location, new RegExp(`^${bucket}/`), `locationRef is in the bucket: ${location}`);
  const key = location.slice(bucket.length + 1);
  t.same(await keys(), [key, `${key}.metadata.json`], 'the object and its metadata are in the bucket');

  const copy = await create('cache-copy', { datastore: { type: 'redis', version: '7.0' }, restorePoint: { backupRef: String(full.id) } });
  const got = await redisCli(Number(copy.port), '', await root(copy.id), ['GET', 'greeting'], { ca: control.datastoreCa });
  t.equal(got.stdout.trim(), 'kept in S3', 'the restored instance holds the key');

  const del = await request('DELETE', `/v1.0/shop/backups/${String(full.id)}`, { token });
  t.equal(del.status, 202, del.text);
  t.same(await keys(), [], 'the bucket is empty: object and metadata removed');
});
