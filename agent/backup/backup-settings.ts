// The agent's backup settings, from the config file's "backup" section and
// two flags: where backups go (local directory by default; Swift and S3 with
// their credentials from the 0600 config file, never from argv) and the
// wrapping key that protects every backup's data key.
import { existsSync, readFileSync, writeFileSync, mkdirSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { StorageConfigs, StorageName } from '../../strategies/storage/registry.js';
import { isStorageName } from '../../strategies/storage/registry.js';

/** The config file's "backup" section. */
export interface BackupOptions {
  /** 32-byte wrapping key, raw or as 64 hex characters. Default <baseDir>/agent/backup.key, created 0600 on first use. */
  keyFile?: string;
  /** Storage used when a request names none. Default "local". */
  defaultStorage?: string;
  /** Per storage strategy: its settings (local: {root}; swift: {auth, container, ...}; s3: {connection, bucket, ...}). */
  storages?: Partial<{ [N in StorageName]: StorageConfigs[N] }>;
}

export interface CompiledBackupSettings {
  readonly keyFile: string;
  readonly defaultStorage: StorageName;
  readonly storages: Readonly<Partial<{ [N in StorageName]: StorageConfigs[N] }>>;
}

export function compileBackupSettings(opts: BackupOptions | undefined, baseDir: string, backupDir?: string, keyFile?: string): CompiledBackupSettings {
  const o = opts ?? {};
  if (typeof o !== 'object' || Array.isArray(o)) throw new TypeError('backup must be an object');
  const storages: Partial<{ [N in StorageName]: StorageConfigs[N] }> = { ...(o.storages ?? {}) };
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

/** Reads the wrapping key, creating a random one (0600) if the file does not exist yet. */
export function loadWrappingKey(file: string): Buffer {
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  }
  const mode = statSync(file).mode & 0o077;
  if (mode !== 0) throw new Error(`backup key file ${file} is readable by others (mode ${(statSync(file).mode & 0o777).toString(8)}); chmod 600 it`);
  const raw = readFileSync(file);
  const text = raw.toString('utf8').trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (raw.length === 32) return raw;
  throw new Error(`backup key file ${file} must hold 32 raw bytes or 64 hex characters`);
}
