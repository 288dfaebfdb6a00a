// Files an operation keeps only while it runs (the MySQL-family tools'
// client option files, which hold the admin password, and backup work dirs)
// are cleared by the next agent when the one that wrote them was killed
// mid-operation (agent/scratch.ts).
import t from 'tap';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startAgent, call, collect, tempBase, waitFor } from '../support/agent.js';
import { seed, checksums } from '../support/dataset.js';
import { BackupType, type CreateBackupResponse } from '../../proto/gen/coffer/agent/v1/backup.js';
import { DatastoreState, type GetStatusResponse } from '../../proto/gen/coffer/agent/v1/lifecycle.js';

const EMPTY_PREPARE = { datastoreVersion: '', rootPassword: '', databases: [], users: [], overrides: {}, restore: undefined, replicaOf: undefined };
const clientFiles = (baseDir: string): string[] => readdirSync(path.join(baseDir, 'agent')).filter((n) => /^client-.*\.cnf$/.test(n));

t.test('the agent is killed mid-backup: the next agent removes the password file and work dirs it left', async (t) => {
  const root = tempBase('coffer-scratch-');
  const keyFile = path.join(root, 'backup.key');
  writeFileSync(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  const args = ['--backup-dir', path.join(root, 'backups'), '--backup-key-file', keyFile];
  const baseDir = path.join(root, 'base');
  const first = await startAgent(t, { baseDir, extraArgs: args });
  await collect(first.clients.lifecycle.prepare(EMPTY_PREPARE));
  await seed(baseDir, 'shop', 20000);
  const expected = await checksums(baseDir, ['shop']);

  const stream = first.clients.backup.createBackup({ backupId: 'cut', type: BackupType.BACKUP_TYPE_FULL, strategy: '', parent: undefined, storage: undefined, compression: '' });
  const ended = collect<CreateBackupResponse>(stream).catch((e: Error) => e);
  await waitFor('the backup tools\' option file', async () => clientFiles(baseDir).length > 0);
  await first.stop('SIGKILL');
  t.ok((await ended) instanceof Error, 'the caller sees the backup fail');
  t.not(clientFiles(baseDir).length, 0, 'the killed agent left its client option file behind');

  const second = await startAgent(t, { baseDir, datastorePort: first.datastorePort, extraArgs: args });
  await waitFor('ACTIVE after boot', async () => (await call<object, GetStatusResponse>(second.clients.lifecycle, 'getStatus', {})).state === DatastoreState.DATASTORE_STATE_ACTIVE);
  t.same(clientFiles(baseDir), [], 'no client option file (with the admin password) is left');
  const work = path.join(baseDir, 'work');
  t.same(existsSync(work) ? readdirSync(work) : [], [], 'no work dir is left');
  t.equal(await checksums(baseDir, ['shop']), expected, 'the data is as it was');
});

t.test('boot removes only what operations leave, and follows no symlink out', async (t) => {
  const baseDir = path.join(tempBase('coffer-scratch-'), 'base');
  const agentDir = path.join(baseDir, 'agent');
  const work = path.join(baseDir, 'work');
  mkdirSync(agentDir, { recursive: true, mode: 0o700 });
  mkdirSync(path.join(work, 'restore-1'), { recursive: true });
  writeFileSync(path.join(work, 'restore-1', 'ibdata1'), 'x');
  const outside = tempBase('coffer-outside-');
  writeFileSync(path.join(outside, 'keep.txt'), 'not the agent\'s');
  symlinkSync(outside, path.join(work, 'backup-evil'));
  writeFileSync(path.join(agentDir, 'client-0b5e1c52-9d0f-4a57-8c43-2a1d6e3f7b90.cnf'), '[client]\npassword=x\n', { mode: 0o600 });
  writeFileSync(path.join(agentDir, 'client-notes.txt'), 'an operator\'s file');

  const agent = await startAgent(t, { baseDir });
  // The agent clears at boot, just after it logs that it listens.
  await waitFor('the boot-time clean-up', async () => agent.logs.some((l) => l.includes('removed files an interrupted operation left')), 10_000);
  t.same(readdirSync(work), [], 'the work dir is emptied');
  t.ok(existsSync(path.join(outside, 'keep.txt')), 'the symlink was removed, not what it pointed to');
  t.same(readdirSync(agentDir).filter((n) => n.startsWith('client-')), ['client-notes.txt'], 'the option file is gone; a file of another name stays');
});
