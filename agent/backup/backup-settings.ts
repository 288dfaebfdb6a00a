// The agent's backup settings, from the config file's "backup" section and
// two flags: where backups go (local directory by default; Swift and S3 with
// their credentials from the 0600 config file, never from argv) and the
// wrapping key that protects every backup's data key (its file format is
// strategies/backup/key-file.ts).
import path from 'node:path';
import type { StorageConfigs, StorageName } from '../../strategies/storage/registry.js';
import { isStorageName } from '../../strategies/storage/registry.js';
import type { BootBackupSection } from '../../lib/boot-config.js';

/** The config file's "backup" section. */
export type BackupOptions = BootBackupSection;

export interface CompiledBackupSettings {
  readonly keyFile: string;
  readonly defaultStorage: StorageName;
  readonly storages: Readonly<Partial<{ [N in StorageName]: StorageConfigs[N] }>>;
}

export function compileBackupSettings(opts: BackupOptions | undefined, baseDir: string, backupDir?: string, keyFile?: string): CompiledBackupSettings {
  const o = opts ?? {};
  if (typeof o !== 'object' || Array.isArray(o)) throw new TypeError('backup must be an object');
  // Each store's own settings are checked when the store is built.
  const storages = { ...(o.storages ?? {}) } as Partial<{ [N in StorageName]: StorageConfigs[N] }>;
  for (const name of Object.keys(storages)) {
    if (!isStorageName(name)) throw new TypeError(`backup.storages.${name} is not a storage strategy; known: local, swift, s3`);
  }
  const localRoot = backupDir ?? storages.local?.root ?? path.join(baseDir, 'backups');
  storages.local = { root: path.resolve(localRoot) };
  const defaultStorage = o.defaultStorage ?? 'local';
  if (!isStorageName(defaultStorage)) throw new TypeError(`backup.defaultStorage "${defaultStorage}" is not local, swift or s3`);
  if (!storages[defaultStorage]) throw new TypeError(`backup.defaultStorage is ${defaultStorage}, but backup.storages.${defaultStorage} is not configured`);
  return Object.freeze({
    keyFile: path.resolve(keyFile ?? o.keyFile ?? path.join(baseDir, 'agent', 'backup.key')),
    defaultStorage,
    storages: Object.freeze(storages),
  });
}
