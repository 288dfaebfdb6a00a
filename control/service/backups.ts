// Backups: create (full or incremental), list, get, delete.
import { randomUUID } from 'node:crypto';
import type { ControlContext } from '../context.js';
import { conflict, invalid, notFound, storageFailed } from '../errors.js';
import type { BackupRow } from '../store/backups.js';
import type { BackupData } from '../workflows/backup.js';
import { pageOf, type Caller, type Page, type PageRequest } from './caller.js';
import { findInstance } from './instances.js';
import { deploymentBackup } from '../backup-settings.js';
import { storeFor, type RemoteStorageName } from '../backup-storage.js';
import { deleteBackupObjects, removeFailedBackup } from '../../strategies/storage/backup-objects.js';
import type { ObjectStorage } from '../../strategies/storage/storage.js';

export interface CreateBackupInput {
  instanceId: string;
  /** Empty: backup-<first 8 of the id>. */
  name?: string;
  incremental?: boolean;
  /** For an incremental backup; empty: the instance's latest COMPLETED backup. */
  parentId?: string;
}

export function findBackup(c: ControlContext, caller: Caller, id: string): BackupRow {
  const b = id ? c.backups.get(id, caller) : undefined;
  if (!b) throw notFound('backup', id);
  return b;
}

export function createBackup(c: ControlContext, caller: Caller, req: CreateBackupInput): { backup: BackupRow; taskId: string } {
  const inst = findInstance(c, caller, req.instanceId);
  if (inst.status !== 'ACTIVE' || inst.task_id) throw conflict(`instance ${inst.id} is ${inst.status}; a backup needs it ACTIVE with no task running`);
  const name = (req.name ?? '').trim();
  if (name.length > 255) throw invalid('name must be at most 255 characters');
  const kind = req.incremental || req.parentId ? 'INCREMENTAL' : 'FULL';
  let parent: BackupRow | undefined;
  if (kind === 'INCREMENTAL') {
    parent = req.parentId ? c.backups.get(req.parentId, caller) : c.backups.latestCompleted(inst.id);
    if (!parent) throw invalid(req.parentId ? `parent backup ${req.parentId} does not exist` : `instance ${inst.id} has no completed backup to be incremental to`);
    if (parent.instance_id !== inst.id || parent.status !== 'COMPLETED') throw invalid(`parent backup ${parent.id} must be a COMPLETED backup of instance ${inst.id}`);
  }
  const id = randomUUID();
  const data: BackupData = { backupId: id, instanceId: inst.id, kind, parentArtifact: parent?.artifact ?? null };
  const taskId = c.engine.submit('backup', inst.project, id, data, (tid) => {
    c.backups.insert({ id, project: inst.project, instance_id: inst.id, name: name || `backup-${id.slice(0, 8)}`, kind, parent_id: parent?.id ?? null, datastore: inst.datastore, datastore_version: inst.datastore_version });
    c.backups.update(id, { task_id: tid });
    c.instances.update(inst.id, { status: 'BACKUP', task_id: tid });
  });
  c.events.emit('instance', inst.id);
  return { backup: c.backups.get(id)!, taskId };
}

export function listBackups(c: ControlContext, caller: Caller, page: PageRequest, instanceId?: string): Page<BackupRow> {
  return pageOf(c.backups.list(caller, page.limit + 1, page.marker, instanceId || undefined), page.limit);
}

export async function deleteBackup(c: ControlContext, caller: Caller, id: string): Promise<void> {
  const b = findBackup(c, caller, id);
  if (b.task_id) throw conflict(`backup ${b.id} is ${b.status}; wait for its task to finish`);
  // Incremental children cannot be restored without this backup: they go
  // too, newest first (as Trove does).
  const doomed: BackupRow[] = [];
  const collect = (row: BackupRow): void => {
    for (const child of c.backups.children(row.id)) collect(child);
    doomed.push(row);
  };
  collect(b);
  for (const row of doomed) {
    if (row.task_id) throw conflict(`backup ${row.id}, an incremental of ${b.id}, is ${row.status}; wait for its task to finish`);
  }
  for (const row of doomed) {
    await removeStoredBackup(c, row);
    c.backups.update(row.id, { deleted_at: Date.now() });
  }
}

/**
 * The object and its metadata, from the store the backup was written to. A
 * store that fails (Swift down, S3 refusing) fails the delete, and the
 * backup stays listed so that the delete can be retried.
 */
async function removeStoredBackup(c: ControlContext, row: BackupRow): Promise<void> {
  if (row.status === 'FAILED') return removeFailedForDelete(c, row);
  if (!row.artifact) return;
  const artifact = JSON.parse(row.artifact) as { location?: { storage: string; location: string } };
  const loc = artifact.location;
  if (!loc?.location) return;
  const store = storeFor(loc.storage, c.config.backupStorage, deploymentBackup(c.config.dataDir).backupDir);
  if (!store) {
    throw conflict(`backup ${row.id} is stored in ${loc.storage}, which this deployment no longer configures (--backup-storage); its object ${loc.location} was not removed`);
  }
  try {
    await deleteBackupObjects(store, loc.location);
  } catch (err) {
    c.log.warn({ backup: row.id, storage: loc.storage, location: loc.location, err }, 'removing the stored backup failed');
    throw storageFailed(`backup ${row.id}: removing its object from ${loc.storage} failed (${(err as Error).message}); the backup is kept, try the delete again`, err);
  }
}

/**
 * A FAILED backup has no artifact, but its upload may have left parts that
 * the sweep at failure time could not remove (the store was down then):
 * the delete sweeps again and, like the delete of a COMPLETED backup, fails
 * and keeps the record while a store fails.
 */
async function removeFailedForDelete(c: ControlContext, row: BackupRow): Promise<void> {
  const failures = await sweepFailedBackup(c, row.id, row.instance_id);
  if (failures.length === 0) return;
  const what = failures.map(([name, err]) => `${name}: ${err.message}`).join('; ');
  throw storageFailed(`backup ${row.id}: removing what its failed upload left failed (${what}); the backup is kept, try the delete again`, failures[0]![1]);
}

/**
 * What a failed backup left in the stores: its unfinished upload (the agent
 * may have been killed in the middle of it, and then cannot clean up) or
 * an object committed before the failure. Every store the deployment
 * configures is swept, as the agent's default may predate today's
 * configuration. Runs in the background; failures are logged (a restarted
 * agent sweeps its own leftovers too, and deleting the backup sweeps again).
 */
export async function removeFailedBackupObjects(c: ControlContext, backupId: string, instanceId: string): Promise<void> {
  await sweepFailedBackup(c, backupId, instanceId);
}

/** Sweeps every store, each even when another fails; returns the stores that failed. */
async function sweepFailedBackup(c: ControlContext, backupId: string, instanceId: string): Promise<Array<[string, Error]>> {
  const failures: Array<[string, Error]> = [];
  for (const [name, store] of deploymentStores(c)) {
    try {
      const removed = await removeFailedBackup(store, instanceId, backupId);
      if (removed.length > 0) c.log.info({ backup: backupId, storage: name, count: removed.length, first: removed.slice(0, 5) }, 'removed what the failed backup left in storage');
    } catch (err) {
      c.log.warn({ backup: backupId, storage: name, err: (err as Error).message }, 'could not remove what the failed backup left in storage');
      failures.push([name, err as Error]);
    }
  }
  return failures;
}

function deploymentStores(c: ControlContext): Array<[string, ObjectStorage]> {
  const names = ['local', ...Object.keys(c.config.backupStorage.storages)] as Array<'local' | RemoteStorageName>;
  const localRoot = deploymentBackup(c.config.dataDir).backupDir;
  return names.flatMap((n) => {
    const store = storeFor(n, c.config.backupStorage, localRoot);
    return store ? [[n, store] as [string, ObjectStorage]] : [];
  });
}
