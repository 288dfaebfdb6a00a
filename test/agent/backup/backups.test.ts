// Backups through the agent's gRPC API on real MariaDB servers: taken from
// one instance, stored (local directory, Swift, S3 through Swift's s3api),
// restored into another, and compared with CHECKSUM TABLE.
import t from 'tap';
import { readFileSync, writeFileSync, existsSync, readdirSync, truncateSync, statSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { status as Status } from '@grpc/grpc-js';
import { startAgent, call, collect, tempBase, type AgentProcess, type TestLike } from '../../support/agent.js';
import { seed, addRows, checksums, count } from '../../support/dataset.js';
import { startSwift } from '../../support/swift.js';
import { BackupType, type BackupArtifact, type CreateBackupResponse, type StreamBackupResponse, type RestoreResponse, type RestoreUploadRequest } from '../../../proto/gen/coffer/agent/v1/backup.js';
import { DatastoreState, type GetStatusResponse, type PrepareResponse } from '../../../proto/gen/coffer/agent/v1/lifecycle.js';

const EMPTY_PREPARE = { datastoreVersion: '', rootPassword: '', databases: [], users: [], overrides: {}, restore: undefined, replicaOf: undefined };

/** A shared backup directory and wrapping key, as a deployment would give its agents. */
function deployment() {
  const dir = tempBase('coffer-deploy-');
  const keyFile = path.join(dir, 'backup.key');
  writeFileSync(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  const backupDir = path.join(dir, 'backups');
  return { dir, keyFile, backupDir, args: ['--backup-dir', backupDir, '--backup-key-file', keyFile] };
}

async function preparedAgent(t: TestLike, extraArgs: string[]): Promise<AgentProcess> {
  const agent = await startAgent(t, { extraArgs });
  await collect(agent.clients.lifecycle.prepare(EMPTY_PREPARE));
  return agent;
}

async function backup(agent: AgentProcess, req: Partial<Parameters<AgentProcess['clients']['backup']['createBackup']>[0]> = {}): Promise<BackupArtifact> {
  const events = await collect<CreateBackupResponse>(agent.clients.backup.createBackup({ backupId: '', type: BackupType.BACKUP_TYPE_FULL, strategy: '', parent: undefined, storage: undefined, compression: '', ...req }));
  const artifact = events.at(-1)?.artifact;
  if (!artifact) throw new Error('no artifact');
  return artifact;
}

const restore = (agent: AgentProcess, chain: BackupArtifact[]) => collect<RestoreResponse>(agent.clients.backup.restore({ chain, rewrapped: undefined }));
const statusOf = (agent: AgentProcess) => call<object, GetStatusResponse>(agent.clients.lifecycle, 'getStatus', {});

t.test('full and incremental mariabackup to a local directory, restored into a new instance through Prepare', async (t) => {
  const d = deployment();
  const a = await preparedAgent(t, d.args);
  await seed(a.baseDir, 'shop', 20000);
  const full = await backup(a, { backupId: 'full-1' });
  t.equal(full.location!.storage, 'local');
  t.equal(full.metadata!.type, BackupType.BACKUP_TYPE_FULL);
  t.equal(full.metadata!.strategy, 'mariabackup');
  t.ok(full.metadata!.toLsn, 'the LSN is recorded');
  t.ok(full.metadata!.checksum.match(/^[0-9a-f]{64}$/), 'the checksum is recorded');
  t.equal(full.metadata!.encryption!.algorithm, 'aes-256-gcm-framed-v1');
  const stored = path.join(d.backupDir, full.location!.location);
  t.equal(statSync(stored).size, full.metadata!.storedBytes, 'the stored object has the recorded size');
  t.notOk(readFileSync(stored).includes(Buffer.from('customer-42')), 'the stored bytes are not readable data');
  const sidecar = JSON.parse(readFileSync(`${stored}.metadata.json`, 'utf8'));
  t.equal(sidecar.checksum, full.metadata!.checksum, 'the full metadata is stored beside the object');
  t.notOk(JSON.stringify(sidecar).includes(readFileSync(d.keyFile, 'utf8').trim()), 'the wrapping key is not in the metadata');

  await addRows(a.baseDir, 'shop', 100000, 5000);
  const inc = await backup(a, { backupId: 'inc-1', type: BackupType.BACKUP_TYPE_INCREMENTAL, parent: full });
  t.equal(inc.metadata!.parentId, 'full-1');
  t.equal(inc.metadata!.fromLsn, full.metadata!.toLsn, 'the increment starts where its parent ended');
  const expected = await checksums(a.baseDir, ['shop']);

  // A new instance from the newest backup: Prepare walks the chain back to its full base.
  const b = await startAgent(t, { extraArgs: d.args });
  const events = await collect<PrepareResponse>(b.clients.lifecycle.prepare({ ...EMPTY_PREPARE, restore: { location: inc.location, backupId: 'inc-1', rewrapped: undefined, target: undefined, archive: undefined }, users: [{ name: 'app', host: '%', password: 'App-pass-1', databases: ['shop'], rules: [] }] }));
  t.equal(events.at(-1)?.result?.state, DatastoreState.DATASTORE_STATE_ACTIVE);
  // A physical restore reads each object once, checked as it is staged;
  // nothing starts on the data before every check passed (the tamper tests below).
  t.notOk(events.some((e) => e.progress?.phase === 'verify'), 'a physical restore needs no separate verify pass');
  t.ok(events.some((e) => e.progress?.phase === 'restore'), 'Prepare reported the restore');
  t.equal(await checksums(b.baseDir, ['shop']), expected, 'CHECKSUM TABLE equal on every table');
  t.equal(await count(b.baseDir, 'shop.big_orders'), await count(a.baseDir, 'shop.big_orders'), 'the view came along');
  t.equal((await statusOf(b)).state, DatastoreState.DATASTORE_STATE_ACTIVE);
});

t.test('restore refuses a flipped bit, a truncated object, a missing parent and a wrong key; the target is untouched', async (t) => {
  const d = deployment();
  const a = await preparedAgent(t, d.args);
  await seed(a.baseDir, 'src', 3000);
  const full = await backup(a, { backupId: 'f' });
  await addRows(a.baseDir, 'src', 50000, 100);
  const inc = await backup(a, { backupId: 'i', type: BackupType.BACKUP_TYPE_INCREMENTAL, parent: full });

  const b = await preparedAgent(t, d.args);
  await seed(b.baseDir, 'mine', 500);
  const before = await checksums(b.baseDir, ['mine']);
  const file = path.join(d.backupDir, full.location!.location);

  // Damage the stored object in place, then put the good bytes back.
  const good = readFileSync(file);
  const flipped = Buffer.from(good);
  flipped[Math.floor(flipped.length / 2)]! ^= 0x10;
  writeFileSync(file, flipped);
  const flipErr = await restore(b, [full]).catch((e: Error) => e);
  t.match(flipErr, { code: Status.DATA_LOSS }, `one flipped bit: refused (${(flipErr as Error).message})`);
  truncateSync(file, good.length - 100);
  const truncErr = await restore(b, [full]).catch((e: Error) => e);
  t.match(truncErr, { code: Status.DATA_LOSS }, `truncated: refused (${(truncErr as Error).message})`);
  // The last frame's tag altered: a physical restore reads the object once,
  // so every other frame was already extracted into the staging work dir when
  // the final check fails. Nothing of it may reach the data directory, and
  // the staging dir and the set-aside data must be gone.
  writeFileSync(file, good);
  // Uncompressed, so that the object has many frames before its last.
  const many = await backup(a, { backupId: 'f-frames', compression: 'none' });
  const manyFile = path.join(d.backupDir, many.location!.location);
  const badTag = readFileSync(manyFile);
  badTag[badTag.length - 1]! ^= 0x01;
  writeFileSync(manyFile, badTag);
  const tagErr = await restore(b, [many]).catch((e: Error) => e);
  t.match(tagErr, { code: Status.DATA_LOSS, details: /frame [1-9]\d* failed authentication/ }, `the final frame's tag altered, after every other frame was staged: refused (${(tagErr as Error).message})`);
  t.same(readdirSync(path.join(b.baseDir, 'work')), [], 'the staging work dir was removed');
  t.notOk(existsSync(path.join(b.baseDir, 'data.pre-restore')), 'the previous data was put back, not left aside');
  t.equal(await checksums(b.baseDir, ['mine']), before, 'the data directory holds the previous data');

  await t.rejects(restore(b, [inc]), { code: Status.INVALID_ARGUMENT }, 'an incremental without its parent: refused');

  const other = deployment();
  const c = await preparedAgent(t, ['--backup-dir', d.backupDir, '--backup-key-file', other.keyFile]);
  const wrongKey = await restore(c, [full]).catch((e: { code: number; details: string }) => e);
  t.equal((wrongKey as { code: number }).code, Status.INVALID_ARGUMENT, 'the wrong key: refused');
  t.match((wrongKey as { details: string }).details, /key/i, 'and the message says it is the key');

  t.equal(await checksums(b.baseDir, ['mine']), before, "the target's own data is untouched");
  t.equal((await statusOf(b)).state, DatastoreState.DATASTORE_STATE_ACTIVE, 'and it still runs');

  // Deleting the parent makes a new increment impossible, clearly.
  await call(a.clients.backup, 'deleteBackup', { location: full.location });
  t.notOk(existsSync(file), 'DeleteBackup removed the object');
  await t.rejects(backup(a, { type: BackupType.BACKUP_TYPE_INCREMENTAL, parent: full }), { code: Status.NOT_FOUND }, 'an increment of a deleted parent');
});

t.test('StreamBackup to the caller, then RestoreUpload into another instance; a logical backup too', async (t) => {
  const d = deployment();
  const a = await preparedAgent(t, d.args);
  await seed(a.baseDir, 'streamed', 5000);
  const expected = await checksums(a.baseDir, ['streamed']);
  const msgs = await collect<StreamBackupResponse>(a.clients.backup.streamBackup({ backupId: 's1', type: BackupType.BACKUP_TYPE_FULL, strategy: '', parent: undefined, compression: 'zstd' }));
  const chunks = msgs.filter((m) => m.chunk).map((m) => m.chunk!);
  const metadata = msgs.at(-1)!.metadata!;
  t.ok(chunks.length > 0 && metadata.checksum, 'bytes, then metadata');
  t.equal(chunks.reduce((s, c) => s + c.length, 0), metadata.storedBytes, 'every byte arrived');
  t.equal(readdirSync(d.dir).includes('backups') ? readdirSync(d.backupDir).length : 0, 0, 'nothing was put in storage');

  const b = await preparedAgent(t, d.args);
  const result = await new Promise((resolve, reject) => {
    const up = b.clients.backup.restoreUpload((err, res) => (err ? reject(err) : resolve(res)));
    up.write({ metadata } satisfies RestoreUploadRequest);
    for (const chunk of chunks) up.write({ chunk } satisfies RestoreUploadRequest);
    up.end();
  });
  t.ok(result, 'RestoreUpload finished');
  t.equal(await checksums(b.baseDir, ['streamed']), expected, 'uploaded bytes restored equal data');

  const logical = await backup(a, { backupId: 'dump-1', strategy: 'mysqldump', compression: 'gzip' });
  t.equal(logical.metadata!.strategy, 'mysqldump');
  const c = await preparedAgent(t, d.args);
  await restore(c, [logical]);
  t.equal(await checksums(c.baseDir, ['streamed']), expected, 'logical restore: equal data');
});

t.test('backups to Swift (SLO segments, metadata on the manifest) and to S3 through s3api', async (t) => {
  const swift = await startSwift(t);
  const d = deployment();
  const config = path.join(d.dir, 'agent.json');
  const bucket = `coffer-s3-${process.pid}`;
  writeFileSync(
    config,
    JSON.stringify({
      backup: {
        defaultStorage: 'swift',
        storages: {
          swift: { auth: { kind: 'tempauth', authUrl: swift.authUrl, user: swift.user, key: swift.key }, container: `coffer-${process.pid}`, segmentSize: 1024 * 1024 },
          s3: { connection: { endpoint: swift.s3Endpoint, region: swift.s3Region, forcePathStyle: true, credentials: { accessKeyId: swift.s3AccessKey, secretAccessKey: swift.s3SecretKey } }, bucket, partSize: 5 * 1024 * 1024, concurrency: 2 },
        },
      },
    }),
    { mode: 0o600 },
  );
  const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3');
  const s3 = new S3Client({ endpoint: swift.s3Endpoint, region: swift.s3Region, forcePathStyle: true, credentials: { accessKeyId: swift.s3AccessKey, secretAccessKey: swift.s3SecretKey }, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  s3.destroy();

  const a = await preparedAgent(t, ['--config', config, '--backup-key-file', d.keyFile]);
  await seed(a.baseDir, 'clouds', 30000);
  const expected = await checksums(a.baseDir, ['clouds']);
  const viaSwift = await backup(a, { backupId: 'sw1', compression: 'none' });
  t.equal(viaSwift.location!.storage, 'swift');
  t.ok(viaSwift.metadata!.storedBytes > 2 * 1024 * 1024, 'large enough for several segments');
  const auth = await fetch(swift.authUrl, { headers: { 'X-Auth-User': swift.user, 'X-Auth-Key': swift.key } });
  const head = await fetch(`${auth.headers.get('x-storage-url')}/${viaSwift.location!.location}`, { method: 'HEAD', headers: { 'X-Auth-Token': auth.headers.get('x-auth-token')! } });
  t.equal(head.status, 200);
  t.equal(head.headers.get('x-static-large-object'), 'True', 'stored as a Static Large Object');
  t.equal(head.headers.get('x-object-meta-backup-id'), 'sw1', 'metadata headers on the manifest');
  t.equal(head.headers.get('x-object-meta-strategy'), 'mariabackup');

  const viaS3 = await backup(a, { backupId: 's3-1', storage: { storage: 's3', location: 'inst-a' } });
  t.equal(viaS3.location!.storage, 's3');

  for (const artifact of [viaSwift, viaS3]) {
    const b = await preparedAgent(t, ['--config', config, '--backup-key-file', d.keyFile]);
    await restore(b, [artifact]);
    t.equal(await checksums(b.baseDir, ['clouds']), expected, `restored from ${artifact.location!.storage}: equal data`);
  }
  await call(a.clients.backup, 'deleteBackup', { location: viaSwift.location });
  const gone = await fetch(`${auth.headers.get('x-storage-url')}/${viaSwift.location!.location}`, { method: 'HEAD', headers: { 'X-Auth-Token': auth.headers.get('x-auth-token')! } });
  t.equal(gone.status, 404, 'deleted from Swift');
});

t.test('a client that cancels mid-backup: the tool is stopped and no object is left', async (t) => {
  const d = deployment();
  const a = await preparedAgent(t, d.args);
  await seed(a.baseDir, 'big', 150000);
  const stream = a.clients.backup.createBackup({ backupId: 'cancelled', type: BackupType.BACKUP_TYPE_FULL, strategy: '', parent: undefined, storage: undefined, compression: 'none' });
  await new Promise<void>((resolve) => stream.once('data', () => resolve()));
  stream.cancel();
  await new Promise((r) => stream.once('error', r));
  const deadline = Date.now() + 30_000;
  let s = await statusOf(a);
  while (s.operations.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    s = await statusOf(a);
  }
  t.same(s.operations, [], 'the operation ended');
  const left = existsSync(d.backupDir) ? readdirSync(path.join(d.backupDir), { recursive: true }).map(String).filter((f) => f.includes('cancelled')) : [];
  t.same(left, [], 'no object or partial file left');
  const tools = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      return /mariadb-backup|mariabackup|mbstream|zstd/.test(path.basename(argv[0] ?? '')) && argv.join(' ').includes(a.baseDir);
    } catch {
      return false;
    }
  });
  t.same(tools.map((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ')), [], 'no backup tool process is left');
  t.equal((await statusOf(a)).state, DatastoreState.DATASTORE_STATE_ACTIVE);
});

t.test('the backup tool dies midway: the backup fails with its reason and no object is left', async (t) => {
  const d = deployment();
  const a = await preparedAgent(t, d.args);
  await seed(a.baseDir, 'victim', 150000);
  const stream = a.clients.backup.createBackup({ backupId: 'killed', type: BackupType.BACKUP_TYPE_FULL, strategy: '', parent: undefined, storage: undefined, compression: 'none' });
  const outcome = collect<CreateBackupResponse>(stream).then(
    () => null,
    (e: Error) => e,
  );
  // Fault injection on the real tool: SIGKILL mariadb-backup once it streams.
  const toolPid = async (): Promise<string | undefined> =>
    readdirSync('/proc').filter((p) => /^\d+$/.test(p)).find((p) => {
      try {
        const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
        return path.basename(argv[0] ?? '') === 'mariadb-backup' && argv.join(' ').includes(a.baseDir);
      } catch {
        return false;
      }
    });
  let pid: string | undefined;
  for (let i = 0; i < 200 && !pid; i++) {
    pid = await toolPid();
    if (!pid) await new Promise((r) => setTimeout(r, 50));
  }
  t.ok(pid, 'mariadb-backup ran');
  process.kill(Number(pid), 'SIGKILL');
  const err = await outcome;
  t.ok(err, 'CreateBackup failed');
  t.match(String(err?.message), /mariadb-backup|killed|SIGKILL/, `with the tool's reason: ${err?.message}`);
  const left = existsSync(d.backupDir) ? readdirSync(d.backupDir, { recursive: true }).map(String).filter((f) => f.includes('killed')) : [];
  t.same(left, [], 'no object or partial file left');
  t.equal((await statusOf(a)).state, DatastoreState.DATASTORE_STATE_ACTIVE, 'the datastore is unharmed');
});
