// Guest logs published to a real Swift and a real S3 (the SAIO,
// test/support/swift.ts), in Trove's layout: the container database_logs
// (S3: the prefix database_logs/ in the backup bucket), objects
// <instance>/<datastore>-<log>/log-<timestamp> carrying their line count
// (X-Object-Meta-Lines, which troveclient's log tail reads), the metafile;
// then discarded. One Redis agent, whose log is its server's output.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { startAgent, call, collect, tempBase } from '../../support/agent.js';
import { startSwift, SwiftProbe } from '../../support/swift.js';
import { createS3Client } from '../../../strategies/storage/s3-client.js';
import { LogServiceClient, type LogInfo, type PublishLogResponse } from '../../../proto/gen/coffer/agent/v1/logs.js';

const PREPARE = { datastoreVersion: '', rootPassword: '', databases: [], users: [], overrides: {}, restore: undefined, replicaOf: undefined };

t.test('publish a log to Swift and S3, then discard it', async (t) => {
  const saio = await startSwift(t);
  const probe = new SwiftProbe(saio);
  const dir = tempBase('coffer-logs-');
  const instance = `logs-${randomBytes(4).toString('hex')}`;
  const bucket = `coffer-${randomBytes(4).toString('hex')}`;
  const connection = { endpoint: saio.s3Endpoint, region: saio.s3Region, forcePathStyle: true, credentials: { accessKeyId: saio.s3AccessKey, secretAccessKey: saio.s3SecretKey } };
  const s3 = createS3Client(connection);
  t.teardown(() => s3.destroy());
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const config = path.join(dir, 'agent.json');
  const swift = { auth: { kind: 'tempauth', authUrl: saio.authUrl, user: saio.user, key: saio.key }, container: `coffer-${randomBytes(4).toString('hex')}` };
  writeFileSync(config, JSON.stringify({ backup: { storages: { swift, s3: { connection, bucket } } } }), { mode: 0o600 });
  const agent = await startAgent(t, { datastore: 'redis', extraArgs: ['--config', config, '--instance-id', instance] });
  await collect(agent.clients.lifecycle.prepare(PREPARE));
  const logs = new LogServiceClient(agent.address, credentials.createInsecure());
  t.teardown(() => logs.close());
  const prefix = `${instance}/redis-server/`;

  await t.test('Swift: the container database_logs', async (t) => {
    const r = await call<object, PublishLogResponse>(logs, 'publishLog', { name: 'server', storage: { storage: 'swift', location: '' } });
    t.equal(r.log!.status, 'Published');
    t.equal(r.log!.prefix, prefix);
    const names = await probe.list('database_logs', instance);
    const objects = names.filter((n) => n.startsWith(`${prefix}log-`));
    t.equal(objects.length, 1, 'one log object');
    t.ok(names.includes(`${instance}/redis-server_metafile`), 'and the metafile');
    const head = await probe.head(`database_logs/${objects[0]}`);
    t.ok(Number(head!.get('x-object-meta-lines')) > 0, `X-Object-Meta-Lines: ${head!.get('x-object-meta-lines')}`);
    const d = await call<object, { log: LogInfo }>(logs, 'discardLog', { name: 'server' });
    t.equal(d.log.container, 'None');
    t.same(await probe.list('database_logs', instance), [], 'discard leaves nothing');
  });

  await t.test('S3: the prefix database_logs/ in the backup bucket', async (t) => {
    const r = await call<object, PublishLogResponse>(logs, 'publishLog', { name: 'server', storage: { storage: 's3', location: '' } });
    t.equal(r.log!.status, 'Published');
    const keys = async () => ((await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `database_logs/${instance}` }))).Contents ?? []).map((o) => o.Key!);
    const listed = await keys();
    const object = listed.find((k) => k.startsWith(`database_logs/${prefix}log-`));
    t.ok(object, 'a log object');
    t.ok(listed.includes(`database_logs/${instance}/redis-server_metafile`), 'and the metafile');
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: object! }));
    t.match(await got.Body!.transformToString(), /Ready to accept connections/);
    await call(logs, 'discardLog', { name: 'server' });
    t.same(await keys(), [], 'discard leaves nothing');
  });
});
