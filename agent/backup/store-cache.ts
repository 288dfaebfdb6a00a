// The stores this agent is configured for, each created on first use and
// kept: a store holds connections and credentials worth reusing.
import { createStorage, type StorageName } from '../../strategies/storage/registry.js';
import type { ObjectStorage } from '../../strategies/storage/storage.js';
import { invalid } from '../errors.js';
import type { CompiledBackupSettings } from './backup-settings.js';

export class StoreCache {
  private readonly stores = new Map<string, ObjectStorage>();

  constructor(private readonly settings: CompiledBackupSettings) {}

  get defaultName(): string {
    return this.settings.defaultStorage;
  }

  /** The store by name ("" is the default). */
  get(name: string): ObjectStorage {
    const n = (name || this.settings.defaultStorage) as StorageName;
    const cached = this.stores.get(n);
    if (cached) return cached;
    const config = this.settings.storages[n];
    if (!config) throw invalid(`storage "${name}" is not configured on this agent; configured: ${Object.keys(this.settings.storages).join(', ')}`);
    const store = createStorage({ storage: n, ...config } as never);
    this.stores.set(n, store);
    return store;
  }
}
