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
import { BackupType, type CreateBackupResponse, type RestoreResponse } from '../../../proto/gen/coffer/agent/v1/backup.js';
import { DatastoreState, type GetStatusResponse } from '../../../proto/gen/coffer/agent/v1/lifecycle.js';

const EMPTY_PREPARE = { datastoreVersion: '', rootPassword: '', databases: [], users: [], overrides: {}, restore: undefined, replicaOf: undefined };

t.test('the agent is killed mid-restore after the data directory was set aside: the next agent puts the instance\'s data back (restore held through an injected FIFO)', async (t) => {
  const root = tempBase('coffer-restore-killed-');
  const keyFile = path.join(root, 'backup.key');
  writeFileSync(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  const backupDir = path.join(root, 'backups');
  const args = ['--backup-dir', backupDir, '--backup-key-file', keyFile];
  const baseDir = path.join(root, 'base');
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
