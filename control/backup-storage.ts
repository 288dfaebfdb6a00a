// Where the deployment's backups go: the control's own local directory by
// default, or Swift or S3 as the operator names in a JSON file
// (--backup-storage). The file holds credentials, so it must be readable by
// its owner only, and its contents go nowhere but into each agent's 0600
// config and the control's own store for deletes: never onto a command line
// or into a log.
import { readFileSync, statSync } from 'node:fs';
import { createStorage, isStorageName, type StorageConfigs, type StorageName } from '../strategies/storage/registry.js';
import type { ObjectStorage } from '../strategies/storage/storage.js';

/** The remote stores a deployment may configure; local is always the control's data dir. */
export type RemoteStorageName = Exclude<StorageName, 'local'>;

export interface DeploymentStorage {
  /** Where new backups go. */
  readonly defaultStorage: StorageName;
  /** Settings of the remote stores in use (local needs none). */
  readonly storages: Readonly<Partial<{ [N in RemoteStorageName]: StorageConfigs[N] }>>;
}

export const LOCAL_ONLY: DeploymentStorage = Object.freeze({ defaultStorage: 'local', storages: Object.freeze({}) });

/** A bad storage file: the message names the file and what is wrong in it. */
export class BackupStorageError extends Error {
  constructor(file: string, what: string) {
    super(`--backup-storage ${file}: ${what}`);
    this.name = 'BackupStorageError';
  }
}

/**
 * Reads and checks the storage file. Every store named is built once here,
 * so a missing container, a bad URL or an unknown field type fails the
 * control's start rather than the first backup.
 */
export function loadBackupStorage(file: string | undefined): DeploymentStorage {
  if (file === undefined) return LOCAL_ONLY;
  const fail = (what: string): never => {
    throw new BackupStorageError(file, what);
  };
  let mode = 0;
  try {
    mode = statSync(file).mode;
  } catch (err) {
    fail(`cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if ((mode & 0o077) !== 0) fail(`holds credentials but is readable by others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    fail(`is not valid JSON (${(err as Error).message})`);
  }
  if (!isPlainObject(parsed)) fail('must be a JSON object with "defaultStorage" and "storages"');
  const o = parsed as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (key !== 'defaultStorage' && key !== 'storages') fail(`unknown field "${key}"; known: defaultStorage, storages`);
  }
  const storagesIn = o.storages ?? {};
  if (!isPlainObject(storagesIn)) fail('"storages" must be an object, e.g. {"swift": {...}}');
  const storages: Partial<{ [N in RemoteStorageName]: StorageConfigs[N] }> = {};
  for (const [name, settings] of Object.entries(storagesIn as Record<string, unknown>)) {
    if (name === 'local') fail('"storages.local" takes no settings: local backups live in the control\'s data dir');
    if (!isStorageName(name)) fail(`"storages.${name}" is not a storage; known: swift, s3`);
    if (!isPlainObject(settings)) fail(`"storages.${name}" must be an object`);
    try {
      createStorage({ storage: name, ...(settings as object) } as never);
    } catch (err) {
      fail(`"storages.${name}": ${(err as Error).message}`);
    }
    (storages as Record<string, unknown>)[name] = Object.freeze(settings);
  }
  const defaultStorage = o.defaultStorage ?? 'local';
  if (typeof defaultStorage !== 'string' || !isStorageName(defaultStorage)) fail(`"defaultStorage" must be local, swift or s3, got ${JSON.stringify(defaultStorage)}`);
  const def = defaultStorage as StorageName;
  if (def !== 'local' && !storages[def]) fail(`"defaultStorage" is ${def}, but "storages.${def}" is not configured`);
  return Object.freeze({ defaultStorage: def, storages: Object.freeze(storages) });
}

/** The store a recorded backup lives in, or undefined if this deployment no longer configures it. */
export function storeFor(name: string, storage: DeploymentStorage, localRoot: string): ObjectStorage | undefined {
  if (name === 'local') return createStorage({ storage: 'local', root: localRoot });
  if (!isStorageName(name)) return undefined;
  const settings = storage.storages[name as RemoteStorageName];
  return settings ? createStorage({ storage: name, ...settings } as never) : undefined;
}

function isPlainObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
