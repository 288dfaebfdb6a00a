// An agent killed (SIGKILL) in the middle of a restore into a prepared
// instance has set the instance's data directory aside as
// `<data>.pre-restore` and left a half-filled one in its place. The next
// agent must put the instance's own data back before it starts the
// datastore (agent/lifecycle/crash-recovery.ts).
//
// The backup object is held through an injected FIFO twice: the verify pass
// reads the first, the restore pass blocks opening the second, which it
// does only after the data directory was set aside. So "killed after the
// swap, before the restore finished" is a point the test controls.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startAgent, call, collect, tempBase, waitFor } from '../../support/agent.js';
import { seed, addRows, checksums } from '../../support/dataset.js';
import { psqlAdmin, SHOP_PREPARE } from '../../support/psql.js';
import { BackupType, type CreateBackupResponse, type RestoreResponse } from '../../../proto/gen/coffer/agent/v1/backup.js';
import { DatastoreState, type GetStatusResponse } from '../../../proto/gen/coffer/agent/v1/lifecycle.js';

/** A base dir, a local backup dir and a backup key for an agent (its flags in `args`). */
function agentFiles(prefix: string): { root: string; backupDir: string; args: string[]; baseDir: string } {
  const root = tempBase(prefix);
  const keyFile = path.join(root, 'backup.key');
  writeFileSync(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  const backupDir = path.join(root, 'backups');
  return { root, backupDir, args: ['--backup-dir', backupDir, '--backup-key-file', keyFile], baseDir: path.join(root, 'base') };
}

const EMPTY_PREPARE = { datastoreVersion: '', rootPassword: '', databases: [], users: [], overrides: {}, restore: undefined, replicaOf: undefined };

t.test('the agent is killed mid-restore after the data directory was set aside: the next agent puts the instance\'s data back (restore held through an injected FIFO)', async (t) => {
  const { root, backupDir, args, baseDir } = agentFiles('coffer-restore-killed-');
  const dataDir = path.join(baseDir, 'data');
  const aside = `${dataDir}.pre-restore`;

  const first = await startAgent(t, { baseDir, extraArgs: args });
  await collect(first.clients.lifecycle.prepare(EMPTY_PREPARE));
  await seed(baseDir, 'shop', 2000);
  const events = await collect<CreateBackupResponse>(
    first.clients.backup.createBackup({ backupId: 'full-1', type: BackupType.BACKUP_TYPE_FULL, strategy: '', parent: undefined, storage: undefined, compression: '' }),
  );
  const artifact = events.at(-1)!.artifact!;
  // The instance's data now differs from the backup's.
  await addRows(baseDir, 'shop', 2001, 500);
  const expected = await checksums(baseDir, ['shop']);

  // Both passes of the restore open the object by name: first FIFO for the
  // verify pass, and before it is released, a second FIFO in its place.
  const object = path.join(backupDir, artifact.location!.location);
  const good = readFileSync(object);
  rmSync(object);
  execFileSync('mkfifo', ['-m', '0600', object]);
  const restoring = collect<RestoreResponse>(first.clients.backup.restore({ chain: [artifact], rewrapped: undefined })).catch((e: Error) => e);
  const verifyEnd = await open(object, 'w');
  const second = path.join(root, 'object.second');
  execFileSync('mkfifo', ['-m', '0600', second]);
  renameSync(second, object);
  await verifyEnd.write(good);
  await verifyEnd.close();

  // The restore pass waits on the second FIFO, with the data set aside.
  await waitFor('the data directory set aside and a new one made', async () => existsSync(aside) && existsSync(dataDir));
  t.ok(existsSync(aside), '<data>.pre-restore exists while the restore is held');
  await first.stop('SIGKILL');
  t.ok((await restoring) instanceof Error, 'the caller sees the restore fail');
  t.ok(existsSync(aside), 'the killed agent left <data>.pre-restore behind');

  const next = await startAgent(t, { baseDir, datastorePort: first.datastorePort, extraArgs: args });
  const status = await waitFor('a settled state after boot', async () => {
    const s = await call<object, GetStatusResponse>(next.clients.lifecycle, 'getStatus', {});
    return s.state === DatastoreState.DATASTORE_STATE_ACTIVE || s.state === DatastoreState.DATASTORE_STATE_FAILED ? s : undefined;
  });
  t.equal(DatastoreState[status.state], DatastoreState[DatastoreState.DATASTORE_STATE_ACTIVE], `ACTIVE after boot (reason: ${status.reason})`);
  t.match(status.reason, /restore/i, 'the reason says the interrupted restore was rolled back');
  t.equal(await checksums(baseDir, ['shop']), expected, 'the instance\'s own rows are there');
  t.notOk(existsSync(aside), 'no <data>.pre-restore is left');
});

t.test('PostgreSQL: the agent is killed while a restore is half extracted into its staging dir: the next agent puts the data back and removes the staging dir (restore held through an injected FIFO)', async (t) => {
  const { backupDir, args, baseDir } = agentFiles('coffer-pg-restore-killed-');
  const staging = path.join(baseDir, 'work', 'pg-restore');
  const aside = path.join(baseDir, 'data.pre-restore');

  const first = await startAgent(t, { baseDir, datastore: 'postgresql', extraArgs: args });
  const admin = async (a: { baseDir: string; datastorePort: number }, sql: string): Promise<string> => {
    const r = await psqlAdmin(a.baseDir, a.datastorePort, sql, 'shop');
    if (r.code !== 0) throw new Error(`psql: ${r.stderr}`);
    return r.stdout.trim();
  };
  await collect(first.clients.lifecycle.prepare(SHOP_PREPARE));
  await admin(first, 'CREATE TABLE t (v int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 1000)');
  const events = await collect<CreateBackupResponse>(
    first.clients.backup.createBackup({ backupId: 'pg-full-1', type: BackupType.BACKUP_TYPE_FULL, strategy: '', parent: undefined, storage: undefined, compression: 'none' }),
  );
  const artifact = events.at(-1)!.artifact!;
  // The instance's data now differs from the backup's.
  await admin(first, 'INSERT INTO t SELECT generate_series(1001, 1500)');

  // The restore reads the object once, through a FIFO the test fills halfway.
  const object = path.join(backupDir, artifact.location!.location);
  const bytes = readFileSync(object);
  rmSync(object);
  execFileSync('mkfifo', ['-m', '0600', object]);
  const restoring = collect<RestoreResponse>(first.clients.backup.restore({ chain: [artifact], rewrapped: undefined })).catch((e: Error) => e);
  const writer = await open(object, 'w');
  await writer.write(bytes.subarray(0, Math.floor(bytes.length / 2)));
  await waitFor('files extracted into the staging dir', async () => existsSync(path.join(staging, 'PG_VERSION')) || existsSync(path.join(staging, 'base')));
  await first.stop('SIGKILL');
  await writer.close().catch(() => undefined);
  t.ok((await restoring) instanceof Error, 'the caller sees the restore fail');
  t.ok(existsSync(staging), 'the killed agent left its staging dir behind');

  const next = await startAgent(t, { baseDir, datastore: 'postgresql', datastorePort: first.datastorePort, extraArgs: args });
  const status = await waitFor('a settled state after boot', async () => {
    const s = await call<object, GetStatusResponse>(next.clients.lifecycle, 'getStatus', {});
    return s.state === DatastoreState.DATASTORE_STATE_ACTIVE || s.state === DatastoreState.DATASTORE_STATE_FAILED ? s : undefined;
  });
  t.equal(DatastoreState[status.state], DatastoreState[DatastoreState.DATASTORE_STATE_ACTIVE], `ACTIVE after boot (reason: ${status.reason})`);
  t.equal(await admin(next, 'SELECT count(*) FROM t'), '1500', 'the instance\'s own rows are there, the later ones too');
  t.notOk(existsSync(staging), 'the staging dir is gone');
  t.notOk(existsSync(aside), 'no data.pre-restore is left');
});
