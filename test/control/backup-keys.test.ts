// Per-project backup wrapping keys (docs/backup-format.md "Keys"), with
// Redis (it builds in seconds) through the real control and real agents:
// - an instance is given its project's key, HKDF-SHA256 of the control's
//   master key over the project id, never the deployment-wide key;
// - a backup restores into another instance of its project;
// - another project's instance cannot unwrap it: its agent refuses naming
//   both keys before reading the object, and its data stays as it was; the
//   control refuses an admin's cross-project restore up front;
// - a backup made the old way (an instance created before per-project keys
//   holds the deployment-wide key) restores into a new instance of its
//   project, which never gets the old key: the control rewraps the data key.
// The old way is set up as an upgraded deployment has it: backup.key in the
// control's data dir, an instance record with no key id, and that
// instance's agent holding backup.key.
import t from 'tap';
import { createHash, hkdfSync, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { credentials, Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { ccall, startControl, type ControlHarness } from '../support/control.js';
import { waitFor } from '../support/agent.js';
import { redisCli } from '../support/redis-cli.js';
import { CreateInstanceRequest, InstanceStatus, type CreateInstanceResponse, type GetInstanceResponse, type Instance } from '../../proto/gen/coffer/control/v1/instances.js';
import { BackupKind, BackupStatus, CreateBackupRequest, type Backup, type CreateBackupResponse, type GetBackupResponse } from '../../proto/gen/coffer/control/v1/backups.js';
import { BackupServiceClient, type RestoreResponse } from '../../proto/gen/coffer/agent/v1/backup.js';

t.setTimeout(10 * 60_000);

const USER = 'app';
const PASSWORD = 'Keys-redis-pass-1';

/** The documented derivation, written out independently of control/backup-keys.ts. */
function projectKey(master: Buffer, project: string): Buffer {
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), Buffer.concat([Buffer.from('coffer backup project wrapping key v1\0'), Buffer.from(project)]), 32));
}
const keyId = (key: Buffer): string => createHash('sha256').update('coffer backup wrapping key id v1\0').update(key).digest().subarray(0, 8).toString('hex');
const hexKey = (file: string): Buffer => Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');

t.test('backups are wrapped per project; old backups restore without the old key reaching a guest', async (t) => {
  const h: ControlHarness = await startControl(t);
  const tokA = h.token('proj-a');
  const tokB = h.token('proj-b');
  const admin = h.token('ops', true);
  const tls = { ca: h.datastoreCa };
  const instDir = (id: string) => path.join(h.dataDir, 'instances', id);
  const agentKey = (id: string) => hexKey(path.join(instDir(id), 'tls', 'backup.key'));

  const settled = (token: string, id: string): Promise<Instance> =>
    waitFor(`instance ${id} to leave BUILD`, async () => {
      const i = (await ccall<GetInstanceResponse>(h.clients.instances, 'getInstance', { id }, token)).instance!;
      return i.status === InstanceStatus.INSTANCE_STATUS_ACTIVE || i.status === InstanceStatus.INSTANCE_STATUS_ERROR ? i : false;
    }, 300_000);
  const create = async (token: string, req: Partial<CreateInstanceRequest>): Promise<Instance> => {
    const c = await ccall<CreateInstanceResponse>(h.clients.instances, 'createInstance', CreateInstanceRequest.fromPartial({ datastore: 'redis', ...req }), token);
    return settled(token, c.instance!.id);
  };
  const backup = async (token: string, instanceId: string, name: string): Promise<Backup> => {
    const c = await ccall<CreateBackupResponse>(h.clients.backups, 'createBackup', CreateBackupRequest.fromPartial({ instanceId, name, kind: BackupKind.BACKUP_KIND_FULL }), token);
    const b = await waitFor(`backup ${name} to end`, async () => {
      const r = (await ccall<GetBackupResponse>(h.clients.backups, 'getBackup', { id: c.backup!.id }, token)).backup!;
      return r.status === BackupStatus.BACKUP_STATUS_COMPLETED || r.status === BackupStatus.BACKUP_STATUS_FAILED ? r : false;
    }, 300_000);
    await settled(token, instanceId);
    return b;
  };
  const get = async (i: Instance, key: string): Promise<string> => {
    const r = await redisCli(i.port, USER, PASSWORD, ['GET', key], tls);
    return r.stdout.trim();
  };
  const sidecarKeyId = (b: Backup): string =>
    (JSON.parse(readFileSync(path.resolve(h.dataDir, 'backups', `${b.location}.metadata.json`), 'utf8')) as { encryption: { keyId: string } }).encryption.keyId;

  // 1. Each instance holds its project's key, derived as documented.
  const a1 = await create(tokA, { name: 'a1', users: [{ name: USER, host: '', password: PASSWORD, databases: [], rules: ['~*', '+@all'] }] });
  t.equal(a1.status, InstanceStatus.INSTANCE_STATUS_ACTIVE, 'a1 (project A) is ACTIVE');
  t.equal((await redisCli(a1.port, USER, PASSWORD, ['SET', 'k', 'from-a'], tls)).stdout.trim(), 'OK');
  const master = hexKey(path.join(h.dataDir, 'backup-master.key'));
  t.same(agentKey(a1.id), projectKey(master, 'proj-a'), "a1's agent holds HKDF(master, 'proj-a'), project A's key");
  t.notOk(existsSync(path.join(h.dataDir, 'backup.key')), 'a new deployment has no deployment-wide key at all');

  // 2. A backup names its key, and restores into another instance of A.
  const bNew = await backup(tokA, a1.id, 'new');
  t.equal(bNew.status, BackupStatus.BACKUP_STATUS_COMPLETED, `a1's backup completes ${bNew.fault?.message ?? ''}`);
  t.equal(sidecarKeyId(bNew), keyId(projectKey(master, 'proj-a')), "its metadata names project A's key by its id");
  const a2 = await create(tokA, { name: 'a2', backupId: bNew.id });
  t.equal(a2.status, InstanceStatus.INSTANCE_STATUS_ACTIVE, `a2 restored from it is ACTIVE ${a2.fault?.message ?? ''}`);
  t.equal(await get(a2, 'k'), 'from-a', 'and has its key');

  // 3. Project B's instance cannot unwrap it.
  const b1 = await create(tokB, { name: 'b1', users: [{ name: USER, host: '', password: PASSWORD, databases: [], rules: ['~*', '+@all'] }] });
  t.equal(b1.status, InstanceStatus.INSTANCE_STATUS_ACTIVE, 'b1 (project B) is ACTIVE');
  await redisCli(b1.port, USER, PASSWORD, ['SET', 'mine', 'from-b'], tls);
  t.notSame(agentKey(b1.id), agentKey(a1.id), "b1 holds another key than project A's");
  const listen = (JSON.parse(readFileSync(path.join(instDir(b1.id), 'agent.json'), 'utf8')) as { listen: string }).listen;
  const read = (...p: string[]) => readFileSync(path.join(h.dataDir, ...p));
  const asControl = new BackupServiceClient(listen, credentials.createSsl(read('ca', 'instances-ca.crt'), read('ca', 'control.key'), read('ca', 'control.crt')), {
    'grpc.ssl_target_name_override': b1.id,
    'grpc.default_authority': b1.id,
  });
  t.teardown(() => asControl.close());
  const refused = await new Promise<ServiceError>((resolve, reject) => {
    const s = asControl.restore({ chain: [{ location: { storage: 'local', location: bNew.location } }], rewrappedKeys: [] }, new Metadata());
    s.on('data', (_m: RestoreResponse) => undefined);
    s.on('error', resolve);
    s.on('end', () => reject(new Error('the restore of project A\'s backup into b1 succeeded')));
  });
  t.equal(refused.code, Status.INVALID_ARGUMENT, `b1's agent refuses project A's backup: ${refused.details}`);
  t.match(refused.details, keyId(projectKey(master, 'proj-a')), "naming the backup's key");
  t.match(refused.details, keyId(projectKey(master, 'proj-b')), 'and its own');
  t.equal(await get(b1, 'mine'), 'from-b', "b1's data is as it was");
  t.equal(await get(b1, 'k'), '', 'and nothing of the backup reached it');
  const cross = await ccall(h.clients.instances, 'createInstance', CreateInstanceRequest.fromPartial({ name: 'x', datastore: 'redis', backupId: bNew.id }), admin).catch((e: ServiceError) => e);
  t.equal((cross as ServiceError).code, Status.INVALID_ARGUMENT, 'an admin cannot restore it into another project either');
  t.match((cross as ServiceError).details, /project proj-a/, `the control says whose key it is: ${(cross as ServiceError).details}`);

  // 4. The old way: a deployment-wide backup.key, and a1 as an instance
  // created before per-project keys.
  const legacy = randomBytes(32);
  writeFileSync(path.join(h.dataDir, 'backup.key'), legacy.toString('hex') + '\n', { mode: 0o600 });
  writeFileSync(path.join(instDir(a1.id), 'tls', 'backup.key'), legacy.toString('hex') + '\n', { mode: 0o600 });
  // The record still says a1 was given project A's key: a backup wrapped otherwise is refused.
  const odd = await backup(tokA, a1.id, 'odd');
  t.equal(odd.status, BackupStatus.BACKUP_STATUS_FAILED, 'a backup wrapped by another key than the one a1 was given fails');
  t.match(odd.fault?.message ?? '', keyId(legacy), `naming the key: ${odd.fault?.message}`);
  const db = new Database(path.join(h.dataDir, 'coffer.db'));
  db.pragma('busy_timeout = 10000');
  db.prepare('UPDATE instances SET backup_key_id = NULL WHERE id = ?').run(a1.id);
  db.close();
  await redisCli(a1.port, USER, PASSWORD, ['SET', 'k', 'from-old'], tls);
  const bOld = await backup(tokA, a1.id, 'old');
  t.equal(bOld.status, BackupStatus.BACKUP_STATUS_COMPLETED, `a backup the old way completes ${bOld.fault?.message ?? ''}`);
  t.equal(sidecarKeyId(bOld), keyId(legacy), 'wrapped by the deployment-wide key');
  const a3 = await create(tokA, { name: 'a3', backupId: bOld.id });
  t.equal(a3.status, InstanceStatus.INSTANCE_STATUS_ACTIVE, `a3 restored from the old backup is ACTIVE ${a3.fault?.message ?? ''}`);
  t.equal(await get(a3, 'k'), 'from-old', 'and has its data');
  t.same(agentKey(a3.id), projectKey(master, 'proj-a'), "a3 holds project A's key only");
  const holders = readdirSync(path.join(h.dataDir, 'instances')).filter((id) => {
    const f = path.join(instDir(id), 'tls', 'backup.key');
    return existsSync(f) && hexKey(f).equals(legacy);
  });
  t.same(holders, [a1.id], 'no instance but the one created the old way holds the deployment-wide key');
});
