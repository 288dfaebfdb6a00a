// Backups and restores of the agent's datastore, as the gRPC services ask
// for them: planning (plan.ts), taking (take-backup.ts), the chain
// (chain.ts), the verified restore (restore.ts) and the stores
// (store-cache.ts) wired to the agent and its datastore's capability.
import type { Readable, Writable } from 'node:stream';
import type { Logger } from '../../lib/logger.js';
import type { ProcessRunner } from '../../lib/process-runner.js';
import type { BackupArtifact, BackupMetadata } from '../../proto/gen/coffer/agent/v1/backup.js';
import type { RewrappedKey, StorageLocation } from '../../proto/gen/coffer/agent/v1/common.js';
import { invalid, unimplemented } from '../errors.js';
import type { BackupCapability } from '../managers/manager.js';
import type { Agent } from '../agent.js';
import type { RestorePlan } from '../lifecycle/restore-swap.js';
import type { CompiledBackupSettings } from './backup-settings.js';
import { chainFromNewest, checkChain, resolveChain } from './chain.js';
import { startHeaders } from './metadata-codec.js';
import type { ObjectStorage } from '../../strategies/storage/storage.js';
import { backupObjectKey, deleteBackupObjects } from '../../strategies/storage/backup-objects.js';
import { initialMetadata, planBackup, type CreateBackupInput } from './plan.js';
import { verifyChain, type RestoreProgress } from './restore.js';
import { writeSidecar } from './sidecar.js';
import { StoreCache } from './store-cache.js';
import { takeBackup, type BackupProgress, type BackupSink } from './take-backup.js';

export type { BackupProgress } from './take-backup.js';
export type { CreateBackupInput } from './plan.js';

/** A restore chain that passed every check that reads no object. */
export interface CheckedRestore {
  /** Replayed into the running datastore (a dump) rather than written into a stopped one's data directory. */
  readonly logical: boolean;
  /** Logical: verifies every object first; physical: checks them as the plan writes them (restore.ts). */
  verify(onProgress: (p: RestoreProgress) => void, signal: AbortSignal): Promise<RestorePlan>;
}

export class Backups {
  private readonly stores: StoreCache;

  constructor(
    private readonly agent: Agent,
    settings: CompiledBackupSettings,
    private readonly wrappingKey: () => Buffer,
    private readonly runner: ProcessRunner,
    private readonly log: Logger,
  ) {
    this.stores = new StoreCache(settings);
  }

  private capability(): BackupCapability {
    const c = this.agent.manager.backup;
    if (!c) throw unimplemented('backup', this.agent.manager.name);
    return c;
  }

  private async take(input: CreateBackupInput, sinkFor: (meta: BackupMetadata) => BackupSink, onProgress: (p: BackupProgress) => void, signal: AbortSignal): Promise<BackupMetadata> {
    const cap = this.capability();
    this.agent.requireRunning('take a backup');
    const plan = await planBackup(cap, this.agent.manager, this.stores, input);
    const meta = initialMetadata(plan, this.agent.manager, input);
    return takeBackup({ plan, meta, sinkFor, wrappingKey: this.wrappingKey(), onProgress, signal, deps: { runner: this.runner, log: this.log } });
  }

  async create(input: CreateBackupInput, onProgress: (p: BackupProgress) => void, signal: AbortSignal): Promise<BackupArtifact> {
    const store = this.stores.get(input.storage?.storage || this.stores.defaultName);
    const prefix = input.storage?.location || this.agent.config.instanceId;
    let saved: Promise<{ location: string }> | undefined;
    let key = '';
    const meta = await this.take(
      input,
      (m) => {
        key = backupObjectKey(prefix, m.backupId);
        const sink = store.save(key, { metadata: startHeaders(m), signal });
        saved = sink.done;
        return { stream: sink.stream, done: sink.done };
      },
      onProgress,
      signal,
    );
    const location = (await saved!).location;
    await writeSidecar(store, key, meta);
    this.log.info({ backupId: meta.backupId, location, bytes: meta.storedBytes }, 'backup stored');
    return { location: { storage: store.name, location }, metadata: meta };
  }

  /** StreamBackup: the stored-format bytes go to `out` instead of a store. */
  stream(input: CreateBackupInput, out: Writable, onProgress: (p: BackupProgress) => void, signal: AbortSignal): Promise<BackupMetadata> {
    return this.take(input, () => ({ stream: out }), onProgress, signal);
  }

  /** Walks parent-location records back from the newest backup to its full base. */
  chainFromNewest(loc: StorageLocation): Promise<BackupArtifact[]> {
    return chainFromNewest(this.stores, loc);
  }

  /**
   * Every check that needs no object read: the chain's order and datastore,
   * a strategy this agent restores, the capability's own checks. `openOverride`
   * reads uploaded bytes instead of a store. `rewrapped`: the data keys of
   * elements wrapped by a key this agent does not hold, wrapped again for
   * its own by the control (restore.ts).
   */
  async checkRestore(chainIn: readonly BackupArtifact[], openOverride?: (i: number) => Promise<Readable>, rewrapped: readonly RewrappedKey[] = []): Promise<CheckedRestore> {
    const cap = this.capability();
    const chain = openOverride ? [...chainIn] : await resolveChain(this.stores, chainIn);
    const metas = checkChain(chain, this.agent.manager.name);
    const strategy = metas[0]!.strategy;
    if (!cap.strategies.includes(strategy)) throw invalid(`this agent cannot restore ${strategy} backups`);
    cap.validateRestore?.(metas);
    const logical = !!cap.requiresRunning?.[strategy];
    return {
      logical,
      verify: async (onProgress, signal) => {
        const open =
          openOverride ?? (async (i: number) => (await this.stores.get(chain[i]!.location!.storage).open(chain[i]!.location!.location, { signal })).stream);
        // A physical restore stages the data where nothing runs on it until
        // every check passed (restore-swap.ts): one pass. A logical one
        // replays into the running datastore: verified first.
        const verified = await verifyChain({ elements: metas, open, wrappingKey: this.wrappingKey(), rewrapped, signal, onProgress, verifyFirst: logical, deps: { runner: this.runner, log: this.log } });
        return { logical, fill: async (s) => (await verified.consume((rawOf) => cap.restore(metas, rawOf, s))).rawBytes };
      },
    };
  }

  /** Restore into this prepared instance: checked, verified, then written under the agent's lock. */
  async restore(
    chain: readonly BackupArtifact[],
    rewrapped: readonly RewrappedKey[],
    onProgress: (p: BackupProgress) => void,
    signal: AbortSignal,
    openOverride?: (i: number) => Promise<Readable>,
  ): Promise<number> {
    const checked = await this.checkRestore(chain, openOverride, rewrapped);
    const plan = await checked.verify(onProgress, signal);
    return this.agent.restore(plan, signal);
  }

  /** The store by name ("" is the default), for the boot-time sweep of abandoned uploads. */
  store(name: string): ObjectStorage {
    return this.stores.get(name);
  }

  async delete(loc: StorageLocation): Promise<void> {
    if (!loc.location) throw invalid('location is required');
    await deleteBackupObjects(this.stores.get(loc.storage), loc.location);
  }
}
