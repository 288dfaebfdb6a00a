// Where published logs go: the deployment's backup storage, in Trove's
// layout. Swift: the container database_logs (its segments in
// database_logs_segments); local: the directory database_logs under the
// local store's root; S3, whose bucket is the operator's: the key prefix
// database_logs/ in the backup bucket.
import path from 'node:path';
import { createStorage, type StorageName } from '../../strategies/storage/registry.js';
import type { ObjectStorage } from '../../strategies/storage/storage.js';
import type { CompiledBackupSettings } from '../backup/backup-settings.js';
import { invalid } from '../errors.js';

export const LOG_CONTAINER = 'database_logs';

export interface LogStore {
  readonly name: string;
  readonly store: ObjectStorage;
  /** The store's key of an object named in Trove's layout (<instance>/<ds>-<log>/log-...). */
  key(name: string): string;
}

export class LogStores {
  private readonly cache = new Map<string, LogStore>();

  constructor(private readonly settings: CompiledBackupSettings) {}

  get(name: string): LogStore {
    const n = (name || this.settings.defaultStorage) as StorageName;
    const cached = this.cache.get(n);
    if (cached) return cached;
    const config = this.settings.storages[n];
    if (!config) throw invalid(`storage "${name}" is not configured on this agent; configured: ${Object.keys(this.settings.storages).join(', ')}`);
    let made: LogStore;
    if (n === 'local') {
      const root = (config as { root: string }).root;
      made = { name: n, store: createStorage({ storage: 'local', root: path.join(root, LOG_CONTAINER) }), key: (k) => k };
    } else if (n === 'swift') {
      made = { name: n, store: createStorage({ storage: 'swift', ...config, container: LOG_CONTAINER, segmentContainer: `${LOG_CONTAINER}_segments` } as never), key: (k) => k };
    } else {
      made = { name: n, store: createStorage({ storage: n, ...config } as never), key: (k) => `${LOG_CONTAINER}/${k}` };
    }
    this.cache.set(n, made);
    return made;
  }
}
