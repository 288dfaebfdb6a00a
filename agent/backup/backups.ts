// Backups and restores of the agent's datastore: the datastore's own tool
// (the manager's BackupCapability) feeds the encrypted, compressed pipeline
// (strategies/backup/pipeline.ts), which feeds a store (strategies/storage).
import { randomUUID } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from '../../lib/logger.js';
import type { ProcessRunner } from '../../lib/process-runner.js';
import { openRestore, runBackup, verifyObject, type RestoreResult } from '../../strategies/backup/pipeline.js';
import { parseCompression, type CompressionName } from '../../strategies/backup/compression.js';
import type { Progress as PipelineProgress } from '../../strategies/backup/hash-meter.js';
import { createStorage, type StorageName } from '../../strategies/storage/registry.js';
import type { ObjectStorage } from '../../strategies/storage/storage.js';
import { BackupType, type BackupArtifact, type BackupMetadata } from '../../proto/gen/coffer/agent/v1/backup.js';
import type { StorageLocation } from '../../proto/gen/coffer/agent/v1/common.js';
import { AgentError, invalid, unimplemented } from '../errors.js';
import type { BackupCapability } from '../managers/manager.js';
import type { Agent } from '../agent.js';
import type { CompiledBackupSettings } from './backup-settings.js';
import { decodeMetadata, encodeMetadata, startHeaders } from './metadata-codec.js';
import { backupObjectKey, deleteBackupObjects, metadataKey } from '../../strategies/storage/backup-objects.js';
import { gatedSource } from './source-gate.js';
import { checkChain } from './chain.js';

export interface BackupProgress {
  phase: string;
  message: string;
  bytesDone: number;
  bytesTotal: number;
  bytesPerSecond: number;
}

export interface CreateBackupInput {
  backupId: string;
  type: BackupType;
  strategy: string;
  parent?: BackupArtifact;
  storage?: StorageLocation;
  compression: string;
}

const BACKUP_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export class Backups {
  private readonly stores = new Map<string, ObjectStorage>();

  constructor(
    private readonly agent: Agent,
    private readonly settings: CompiledBackupSettings,
    private readonly wrappingKey: () => Buffer,
    private readonly runner: ProcessRunner,
    private readonly log: Logger,
  ) {}

  private capability(): BackupCapability {
    const c = this.agent.manager.backup;
    if (!c) throw unimplemented('backup', this.agent.manager.name);
    return c;
  }

  store(name: string): ObjectStorage {
    const n = (name || this.settings.defaultStorage) as StorageName;
    const cached = this.stores.get(n);
    if (cached) return cached;
    const config = this.settings.storages[n];
    if (!config) throw invalid(`storage "${name}" is not configured on this agent; configured: ${Object.keys(this.settings.storages).join(', ')}`);
    const store = createStorage({ storage: n, ...config } as never);
    this.stores.set(n, store);
    return store;
  }

  /** Checks a request and fills in defaults, before any tool starts. */
  private async plan(input: CreateBackupInput) {
    const cap = this.capability();
    this.agent.requireRunning('take a backup');
    const backupId = input.backupId || randomUUID();
    if (!BACKUP_ID.test(backupId)) throw invalid(`backup_id "${backupId.slice(0, 80)}" may hold only letters, digits, "_" and "-" (at most 64)`);
    const strategy = input.strategy || cap.defaultStrategy;
    if (!cap.strategies.includes(strategy)) {
      throw invalid(`backup strategy "${strategy}" is not available for ${this.agent.manager.name}; choose one of ${cap.strategies.join(', ')}`);
    }
    const compression: CompressionName = parseCompression(input.compression || undefined);
    const incremental = input.type === BackupType.BACKUP_TYPE_INCREMENTAL;
    let parent: BackupMetadata | undefined;
    if (incremental) {
      const p = input.parent;
      if (!p?.metadata || !p.location?.location) throw invalid('an incremental backup needs its parent artifact (location and metadata)');
      parent = p.metadata;
      if (parent.strategy !== strategy) throw invalid(`the parent ${parent.backupId} was taken with ${parent.strategy}, not ${strategy}`);
      // The parent must still exist: an increment of a lost parent cannot be restored.
      await this.store(p.location.storage).stat(p.location.location).catch((err: unknown) => {
        throw new AgentError('AGENT_ERR_NOT_FOUND', `the parent backup ${parent!.backupId} is missing from storage (${p.location!.location}): ${(err as Error).message}`);
      });
    }
    return { cap, backupId, strategy, compression, incremental, parent };
  }

  private metadataFor(p: Awaited<ReturnType<Backups['plan']>>, input: CreateBackupInput): BackupMetadata {
    return {
      backupId: p.backupId,
      type: p.incremental ? BackupType.BACKUP_TYPE_INCREMENTAL : BackupType.BACKUP_TYPE_FULL,
      parentId: p.parent?.backupId ?? '',
      strategy: p.strategy,
      datastore: this.agent.manager.name,
      datastoreVersion: this.agent.manager.version,
      compression: p.compression,
      encryption: undefined,
      fromLsn: '',
      toLsn: '',
      gtidPosition: '',
      startLsn: '',
      stopLsn: '',
      startWal: '',
      stopWal: '',
      rawBytes: 0,
      storedBytes: 0,
      checksum: '',
      createdAtMs: Date.now(),
      extra: p.parent && input.parent?.location ? { 'parent-storage': input.parent.location.storage, 'parent-location': input.parent.location.location } : {},
    };
  }

  /** Runs source -> pipeline -> sink; the sink's owner commits or discards. */
  private async runInto(
    input: CreateBackupInput,
    sinkFor: (meta: BackupMetadata) => { stream: Writable; done?: Promise<{ sha256: string }> },
    onProgress: (p: BackupProgress) => void,
    signal: AbortSignal,
  ): Promise<BackupMetadata> {
    const p = await this.plan(input);
    const meta = this.metadataFor(p, input);
    // One controller for the tool: aborted when the caller goes away or when
    // the pipeline fails, so the tool's process group never outlives it.
    const tool = new AbortController();
    const onAbort = () => tool.abort(signal.reason);
    signal.addEventListener('abort', onAbort);
    try {
      const source = await p.cap.source({ strategy: p.strategy, type: p.incremental ? 'incremental' : 'full', parent: p.parent, signal: tool.signal });
      const sink = sinkFor(meta);
      const report = (x: PipelineProgress) =>
        onProgress({ phase: 'backup', message: `${p.strategy} backup`, bytesDone: x.rawBytes, bytesTotal: 0, bytesPerSecond: x.rawRate });
      // A store's sink hashes what it saves; the pipeline then need not.
      const sinkSha256 = sink.done?.then((s) => s.sha256);
      sinkSha256?.catch(() => undefined); // awaited by runBackup on success only
      let result;
      try {
        result = await runBackup(
          { source: gatedSource(source), sink: sink.stream, sinkSha256, wrappingKey: this.wrappingKey(), compression: p.compression, signal, onProgress: report },
          { runner: this.runner, log: this.log },
        );
      } catch (err) {
        tool.abort(err);
        source.done.catch(() => undefined);
        if (sink.done) await sink.done.catch(() => undefined);
        throw err;
      }
      const recorded = await source.done;
      if (sink.done) await sink.done;
      return {
        ...meta,
        ...recorded,
        extra: { ...meta.extra, ...(recorded.extra ?? {}) },
        rawBytes: result.rawBytes,
        storedBytes: result.storedBytes,
        checksum: result.sha256,
        encryption: { algorithm: result.encryption.algorithm, wrappedKey: result.encryption.wrappedKey, keyId: result.encryption.keyId, frameSize: result.encryption.frameSize },
      };
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  async create(input: CreateBackupInput, onProgress: (p: BackupProgress) => void, signal: AbortSignal): Promise<BackupArtifact> {
    const storageName = input.storage?.storage || this.settings.defaultStorage;
    const store = this.store(storageName);
    const prefix = input.storage?.location || this.agent.config.instanceId;
    let saved: Promise<{ location: string }> | undefined;
    let key = '';
    const meta = await this.runInto(
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
    // The full metadata, beside the object: readable without the caller's records.
    await this.writeSidecar(store, key, meta);
    this.log.info({ backupId: meta.backupId, location, bytes: meta.storedBytes }, 'backup stored');
    return { location: { storage: store.name, location }, metadata: meta };
  }

  private async writeSidecar(store: ObjectStorage, key: string, meta: BackupMetadata): Promise<void> {
    const sink = store.save(metadataKey(key), { metadata: { 'backup-id': meta.backupId } });
    sink.stream.end(encodeMetadata(meta));
    await sink.done;
  }

  /** StreamBackup: the stored-format bytes go to `out` instead of a store. */
  async stream(input: CreateBackupInput, out: Writable, onProgress: (p: BackupProgress) => void, signal: AbortSignal): Promise<BackupMetadata> {
    return this.runInto(input, () => ({ stream: out }), onProgress, signal);
  }

  /** Fills in missing metadata from the sidecar stored beside each object. */
  async resolveChain(chain: readonly BackupArtifact[]): Promise<BackupArtifact[]> {
    const out: BackupArtifact[] = [];
    for (const a of chain) {
      if (a.metadata?.checksum || !a.location?.location) {
        out.push(a);
        continue;
      }
      out.push({ location: a.location, metadata: await this.readSidecar(a.location) });
    }
    return out;
  }

  async readSidecar(loc: StorageLocation): Promise<BackupMetadata> {
    const store = this.store(loc.storage);
    const obj = await store.open(metadataKey(loc.location));
    const chunks: Buffer[] = [];
    for await (const c of obj.stream) chunks.push(c as Buffer);
    return decodeMetadata(Buffer.concat(chunks));
  }

  /** Walks parent-location records back from the newest backup to its full base. */
  async chainFromNewest(loc: StorageLocation): Promise<BackupArtifact[]> {
    const chain: BackupArtifact[] = [];
    let cur: StorageLocation | undefined = loc;
    while (cur) {
      const metadata = await this.readSidecar(cur);
      chain.unshift({ location: cur, metadata });
      if (metadata.type !== BackupType.BACKUP_TYPE_INCREMENTAL) break;
      const parent = metadata.extra['parent-location'];
      if (!parent || chain.length > 1000) throw invalid(`backup ${metadata.backupId} does not record where its parent ${metadata.parentId} is`);
      cur = { storage: metadata.extra['parent-storage'] || cur.storage, location: parent };
    }
    return chain;
  }

  /**
   * Verifies every object of the chain (checksum, every frame, the final
   * marker) before touching the datastore; then the agent swaps the data
   * directory and the capability restores from a second, re-checked read.
   */
  async restore(
    chainIn: readonly BackupArtifact[],
    onProgress: (p: BackupProgress) => void,
    signal: AbortSignal,
    openOverride?: (i: number) => Promise<Readable>,
  ): Promise<number> {
    const cap = this.capability();
    const chain = openOverride ? [...chainIn] : await this.resolveChain(chainIn);
    const metas = checkChain(chain, this.agent.manager.name);
    if (!cap.strategies.includes(metas[0]!.strategy)) throw invalid(`this agent cannot restore ${metas[0]!.strategy} backups`);
    cap.validateRestore?.(metas);
    const key = this.wrappingKey();
    const open = openOverride ?? (async (i: number) => (await this.store(chain[i]!.location!.storage).open(chain[i]!.location!.location, { signal })).stream);
    const headers: Buffer[] = [];
    for (let i = 0; i < chain.length; i++) {
      const m = metas[i]!;
      onProgress({ phase: 'verify', message: `verifying backup ${m.backupId}`, bytesDone: 0, bytesTotal: m.storedBytes, bytesPerSecond: 0 });
      const v = await verifyObject(await open(i), m.checksum, key, {
        signal,
        onProgress: (x) => onProgress({ phase: 'verify', message: `verifying backup ${m.backupId}`, bytesDone: x.storedBytes, bytesTotal: m.storedBytes, bytesPerSecond: x.storedRate }),
      });
      headers.push(v.header);
    }
    const results: Promise<RestoreResult>[] = [];
    const outputs: Readable[] = [];
    // Each element's raw bytes: with zstd, zstd's stdout, which the
    // capability's tool reads directly (tool-io.ts feedTool).
    const rawOf = async (i: number): Promise<Readable> => {
      const m = metas[i]!;
      const opened = openRestore(
        await open(i),
        {
          wrappingKey: key,
          expectedSha256: m.checksum,
          compression: parseCompression(m.compression || undefined),
          expectHeader: headers[i],
          signal,
          onProgress: (x) => onProgress({ phase: 'restore', message: `restoring backup ${m.backupId}`, bytesDone: x.rawBytes, bytesTotal: m.rawBytes, bytesPerSecond: x.rawRate }),
        },
        { runner: this.runner, log: this.log },
      );
      results.push(opened.result);
      outputs.push(opened.output);
      return opened.output;
    };
    onProgress({ phase: 'restore', message: 'restoring into the datastore', bytesDone: 0, bytesTotal: metas.reduce((s, m) => s + m.rawBytes, 0), bytesPerSecond: 0 });
    try {
      if (cap.requiresRunning?.[metas[0]!.strategy]) {
        // A logical dump is replayed through the client into the running datastore.
        this.agent.requireRunning('restore a logical backup');
        await this.agent.exclusive('restore', () => cap.restore(metas, rawOf, signal));
      } else {
        await this.agent.restoreData((signal2) => cap.restore(metas, rawOf, signal2), signal);
      }
    } finally {
      // An element the capability never read to its end (it failed first)
      // must not leave zstd and the object's download waiting on a reader.
      for (const o of outputs) if (!o.readableEnded) o.destroy();
    }
    let restored = 0;
    for (const r of await Promise.allSettled(results)) if (r.status === 'fulfilled') restored += r.value.rawBytes;
    return restored;
  }

  async delete(loc: StorageLocation): Promise<void> {
    if (!loc.location) throw invalid('location is required');
    await deleteBackupObjects(this.store(loc.storage), loc.location);
  }
}
