// How a backup lies in a store, named once for the agent that writes it and
// the control that deletes it: the object "<prefix>/<backup id>.backup"
// (the prefix is the instance id unless a request names another) and the
// full metadata as a JSON object beside it, "<object>.metadata.json".
import type { ObjectStorage } from './storage.js';

export const backupObjectKey = (prefix: string, backupId: string): string => `${prefix}/${backupId}.backup`;

/** The sidecar of an object; works on a key and on a location alike (both end in the key). */
export const metadataKey = (objectKey: string): string => `${objectKey}.metadata.json`;

/** Where every backup of an instance lies, when its requests name no other prefix. */
export const instancePrefix = (instanceId: string): string => `${instanceId}/`;

/** The object and its sidecar (and, through the store, their segments). Missing is not an error. */
export async function deleteBackupObjects(store: ObjectStorage, location: string): Promise<void> {
  await store.delete(location);
  await store.delete(metadataKey(location));
}

/**
 * Everything a failed backup may have left: the unfinished uploads of its
 * object and sidecar, and the object and sidecar themselves if they were
 * committed before it failed. Returns what unfinished uploads were removed.
 */
export async function removeFailedBackup(store: ObjectStorage, prefix: string, backupId: string): Promise<string[]> {
  const key = backupObjectKey(prefix, backupId);
  // The object's key is a prefix of its sidecar's: one sweep covers both.
  const removed = await store.removeAbandoned(key);
  await deleteBackupObjects(store, store.locationOf(key));
  return removed;
}
