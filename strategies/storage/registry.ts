// Storage strategies by name. A static map: configuration picks one of these
// names and never names a module or class to load (Trove's import-by-string
// let a config file decide what code ran).
import type { ObjectStorage } from './storage.js';
import { LocalStorage, type LocalStorageOptions } from './local.js';
import { SwiftStorage, type SwiftStorageOptions } from './swift.js';
import { S3Storage, type S3StorageOptions } from './s3.js';
import { createS3Client, type S3ConnectionOptions } from './s3-client.js';

/** What a deployment configures for each strategy. */
export interface StorageConfigs {
  readonly local: LocalStorageOptions;
  readonly swift: SwiftStorageOptions;
  readonly s3: Omit<S3StorageOptions, 'client'> & { readonly connection: S3ConnectionOptions };
}

export type StorageName = keyof StorageConfigs;

export type StorageConfig = { [N in StorageName]: { readonly storage: N } & StorageConfigs[N] }[StorageName];

type Factory<N extends StorageName> = (config: StorageConfigs[N]) => ObjectStorage;

export const STORAGE_FACTORIES: { readonly [N in StorageName]: Factory<N> } = Object.freeze({
  local: (c: LocalStorageOptions) => new LocalStorage(c),
  swift: (c: SwiftStorageOptions) => new SwiftStorage(c),
  s3: ({ connection, ...rest }: StorageConfigs['s3']) => new S3Storage({ ...rest, client: createS3Client(connection) }),
});

export const DEFAULT_STORAGE: StorageName = 'local';

export const isStorageName = (name: string): name is StorageName => Object.hasOwn(STORAGE_FACTORIES, name);

/** Builds the configured store; an unknown name is a TypeError listing the known ones. */
export function createStorage(config: StorageConfig): ObjectStorage {
  if (!isStorageName(config.storage)) {
    throw new TypeError(`unknown storage ${JSON.stringify(config.storage)}; known: ${Object.keys(STORAGE_FACTORIES).join(', ')}`);
  }
  const factory = STORAGE_FACTORIES[config.storage] as Factory<typeof config.storage>;
  return factory(config as never);
}
