// Continuous archiving, the agent's core (issue 18, docs/pitr.md): the
// datastore hands over each closed log file through the local socket
// (local-socket.ts); the file is compressed, encrypted and uploaded as a
// backup is (strategies/backup), by an uploader with bounded parallelism
// that settles only once the object and its catalogue entry are durable
// (uploader.ts, catalogue.ts). The hand-over is answered only then, so the
// datastore keeps every file until it is archived: a store that goes away
// makes archiving fall behind (status, metrics), never lose a file. While
// the datastore's own archiver waits on one file, the files it will ask
// for next are already uploading (the look-ahead), which is where the
// parallelism comes from: PostgreSQL archives one segment at a time.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Logger } from '../../lib/logger.js';
import type { ProcessRunner } from '../../lib/process-runner.js';
import { CofferError } from '../../lib/coded-error.js';
import type { ArchiveSettings, ArchiveStatus, RestorableWindow } from '../../proto/gen/coffer/agent/v1/archive.js';
import type { StorageLocation } from '../../proto/gen/coffer/agent/v1/common.js';
import { runBackup } from '../../strategies/backup/pipeline.js';
import { COMPRESSIONS, DEFAULT_COMPRESSION, type CompressionName } from '../../strategies/backup/compression.js';
import { keyIdOf } from '../../strategies/backup/key-wrap.js';
import { archivedObjectKey, defaultArchivePrefix, objectMetadata, type ArchivedObject } from '../../strategies/archive/layout.js';
import { reason } from '../../strategies/storage/errors.js';
import type { ObjectStorage } from '../../strategies/storage/storage.js';
import type { ArchiveCapability } from './archive-datastore.js';
import { ArchiveCatalogueWriter, readCatalogue } from './catalogue.js';
import { windowOf, type BaseBackupEnd, type Window } from './planner.js';
import { DEFAULT_ARCHIVE_PARALLELISM, DEFAULT_ARCHIVE_TIMEOUT_SECONDS, readArchiveSettings, writeArchiveSettings, type ArchiveSettingsFile } from './settings-store.js';
import { ArchiveUploader, type ArchiveItem } from './uploader.js';

export interface ArchiverDeps {
  readonly capability: ArchiveCapability;
  readonly instanceId: string;
  readonly agentDir: string;
  /** The store by name ("" is the agent's default). */
  readonly store: (name: string) => ObjectStorage;
  readonly defaultStorage: string;
  readonly wrappingKey: () => Buffer;
  readonly runner: ProcessRunner;
  readonly log: Logger;
  /** Restarts the running datastore under the agent's lock (archive_mode changed). */
  readonly restartDatastore: () => Promise<unknown>;
}

const MAX_PARALLELISM = 16;
const MAX_TIMEOUT_SECONDS = 3600;

/** What a hand-over came to: stored, stored before (a retry), or acknowledged unstored (archiving off). */
export type HandOver = 'archived' | 'already-archived' | 'discarded';

interface Active {
  readonly settings: ArchiveSettingsFile;
  readonly store: ObjectStorage;
  readonly prefix: string;
  readonly catalogue: Promise<ArchiveCatalogueWriter>;
  readonly uploader: ArchiveUploader;
}

export class Archiver {
  #active: Active | undefined;
  #failedCount = 0;
  #lastError = '';
  #lastErrorAtMs = 0;
  #last: ArchivedObject | undefined;

  constructor(private readonly deps: ArchiverDeps) {
    const saved = readArchiveSettings(deps.agentDir);
    if (saved?.enabled) this.#active = this.#activate(saved);
  }

  get enabled(): boolean {
    return this.#active !== undefined;
  }

  /** ConfigureArchiving: validated, persisted, applied to the datastore's configuration. */
  async configure(enabled: boolean, s: ArchiveSettings | undefined): Promise<ArchiveStatus> {
    const settings = this.#compile(enabled, s);
    writeArchiveSettings(this.deps.agentDir, settings);
    const before = this.#active;
    this.#active = enabled ? this.#activate(settings, before) : undefined;
    before?.uploader.close();
    if (await this.deps.capability.applyArchiving(enabled ? settings.archiveTimeoutSeconds : 0)) {
      this.deps.log.info({ enabled }, 'restarting the datastore to turn archiving on or off');
      await this.deps.restartDatastore();
    }
    this.deps.log.info({ enabled, storage: settings.storage, timeout: settings.archiveTimeoutSeconds }, 'archiving configured');
    return this.status();
  }

  #compile(enabled: boolean, s: ArchiveSettings | undefined): ArchiveSettingsFile {
    const timeout = s?.archiveTimeoutSeconds || DEFAULT_ARCHIVE_TIMEOUT_SECONDS;
    if (!Number.isInteger(timeout) || timeout < 1 || timeout > MAX_TIMEOUT_SECONDS) {
      throw new CofferError('INVALID_ARGUMENT', `archive_timeout_seconds must be 1 to ${MAX_TIMEOUT_SECONDS}, not ${timeout}`);
    }
    const parallelism = s?.parallelism || DEFAULT_ARCHIVE_PARALLELISM;
    if (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > MAX_PARALLELISM) {
      throw new CofferError('INVALID_ARGUMENT', `parallelism must be 1 to ${MAX_PARALLELISM}, not ${parallelism}`);
    }
    const compression = (s?.compression || DEFAULT_COMPRESSION) as CompressionName;
    if (!COMPRESSIONS.includes(compression)) throw new CofferError('INVALID_ARGUMENT', `compression must be one of ${COMPRESSIONS.join(', ')}, not ${JSON.stringify(s?.compression)}`);
    const own = keyIdOf(this.deps.wrappingKey());
    if (s?.keyId && s.keyId !== own) {
      throw new CofferError('INVALID_ARGUMENT', `key_id ${s.keyId} is not a key this instance holds (it holds ${own})`);
    }
    const storage = { storage: s?.storage?.storage || this.deps.defaultStorage, location: s?.storage?.location || defaultArchivePrefix(this.deps.instanceId) };
    // The store must be configured: refused now, not at the first segment.
    if (enabled) this.deps.store(storage.storage);
    const retentionDays = s?.retentionDays ?? 0;
    if (!Number.isInteger(retentionDays) || retentionDays < 0 || retentionDays > 3650) throw new CofferError('INVALID_ARGUMENT', `retention_days must be 0 to 3650, not ${retentionDays}`);
    return { version: 1, enabled, storage, archiveTimeoutSeconds: timeout, parallelism, compression, retentionDays };
  }

  #activate(settings: ArchiveSettingsFile, previous?: Active): Active {
    const store = this.deps.store(settings.storage.storage);
    const prefix = settings.storage.location;
    const table = this.deps.capability.table;
    // The same archive reconfigured (a new timeout or retention): its one
    // writer carries on. A second writer would read the catalogue while
    // the first may still be writing it, and could drop an entry.
    const same = previous && previous.settings.storage.storage === settings.storage.storage && previous.prefix === prefix;
    const catalogue = same
      ? previous.catalogue
      : readCatalogue(store, prefix, table.kind).then(
          (c) => new ArchiveCatalogueWriter(store, prefix, table.kind, this.deps.instanceId, c.objects, (a, b) => table.compareNames(a, b)),
        );
    // A store away at start: the next hand-over reads the catalogue again.
    catalogue.catch(() => undefined);
    const active: Active = {
      settings,
      store,
      prefix,
      catalogue,
      uploader: new ArchiveUploader({
        parallelism: settings.parallelism,
        store: (item, signal) => this.#storeItem(active, item, signal),
        record: async (o) => (await this.#catalogueOf(active)).record(o),
        onFailure: (item, err) => this.#failed(item.name, err),
        onArchived: (o) => {
          this.#last = o;
          this.#lastError = '';
        },
      }),
    };
    return active;
  }

  #failed(name: string, err: unknown): void {
    this.#failedCount++;
    this.#lastError = `archiving ${name} failed: ${reason(err)}`;
    this.#lastErrorAtMs = Date.now();
    this.deps.log.warn({ file: name, err: reason(err) }, 'archiving a file failed; the datastore keeps it and asks again');
  }

  async #catalogueOf(active: Active): Promise<ArchiveCatalogueWriter> {
    try {
      return await active.catalogue;
    } catch {
      // Read again: the store may be back.
      const table = this.deps.capability.table;
      const c = await readCatalogue(active.store, active.prefix, table.kind);
      const writer = new ArchiveCatalogueWriter(active.store, active.prefix, table.kind, this.deps.instanceId, c.objects, (a, b) => table.compareNames(a, b));
      (active as { catalogue: Promise<ArchiveCatalogueWriter> }).catalogue = Promise.resolve(writer);
      return writer;
    }
  }

  /**
   * The datastore hands over a closed file (archive_command). Resolves once
   * it is durable in the store, or at once when archiving is off; rejects
   * when it could not be archived (the datastore keeps it and asks again).
   */
  async handOver(name: string): Promise<HandOver> {
    const cap = this.deps.capability;
    if (!cap.isArchiveName(name)) throw new CofferError('INVALID_ARGUMENT', `${JSON.stringify(name.slice(0, 64))} is not a file this datastore archives`);
    const active = this.#active;
    if (!active) return 'discarded';
    const catalogue = await this.#catalogueOf(active);
    // Archived already (an agent killed between the upload and its answer,
    // or the look-ahead's upload): a WAL segment's name fixes its content,
    // so the stored copy stands, once a committed catalogue lists it (its
    // write may have failed, or still be under way).
    if (catalogue.objects.some((o) => o.name === name)) {
      try {
        await catalogue.committed(name);
      } catch (err) {
        this.#failed(name, err);
        throw err;
      }
      return 'already-archived';
    }
    const file = cap.pathOf(name);
    const closedAtMs = (await stat(file)).mtimeMs;
    const done = active.uploader.archive({ name, path: file, closedAtMs });
    void this.#lookAhead(active, name);
    await done;
    return 'archived';
  }

  /** Starts uploading the files the datastore will hand over next, up to the parallelism. */
  async #lookAhead(active: Active, after: string): Promise<void> {
    try {
      const catalogue = await this.#catalogueOf(active);
      const next = (await this.deps.capability.waiting())
        .filter((w) => this.deps.capability.table.compareNames(w.name, after) > 0 && !catalogue.objects.some((o) => o.name === w.name))
        .slice(0, active.settings.parallelism - 1);
      for (const w of next) active.uploader.archive({ name: w.name, path: w.path, closedAtMs: w.closedAtMs }).catch(() => undefined);
    } catch {
      // Only an optimisation: the datastore hands each file over anyway.
    }
  }

  async #storeItem(active: Active, item: ArchiveItem, signal: AbortSignal): Promise<ArchivedObject> {
    const cap = this.deps.capability;
    const range = await cap.describe(item.name, item.path, signal);
    const key = archivedObjectKey(active.prefix, cap.table.kind, item.name);
    const rawBytes = (await stat(item.path)).size;
    const compression = active.settings.compression;
    const sink = active.store.save(key, {
      metadata: objectMetadata({ kind: cap.table.kind, name: item.name, ...range, closedAtMs: Math.round(item.closedAtMs), rawBytes, compression }),
      signal,
    });
    const sinkSha256 = sink.done.then((s) => s.sha256);
    // Awaited on success only; a failed upload reports through runBackup.
    sinkSha256.catch(() => undefined);
    let result;
    try {
      result = await runBackup(
        { source: createReadStream(item.path), sink: sink.stream, sinkSha256, wrappingKey: this.deps.wrappingKey(), compression, signal },
        { runner: this.deps.runner, log: this.deps.log },
      );
    } catch (err) {
      // The sink has removed its partial object (or tried to) before the caller hears.
      await sink.done.catch(() => undefined);
      throw err;
    }
    await sink.done;
    return {
      kind: cap.table.kind,
      name: item.name,
      key,
      ...range,
      closedAtMs: Math.round(item.closedAtMs),
      archivedAtMs: Date.now(),
      rawBytes: result.rawBytes,
      storedBytes: result.storedBytes,
      sha256: result.sha256,
      compression,
      encryption: { algorithm: result.encryption.algorithm, keyId: result.encryption.keyId, frameSize: result.encryption.frameSize },
    };
  }

  /** The window of an archive (this instance's, or the one named) from a base backup's end, or its own coverage. */
  async window(archive?: StorageLocation, from?: BaseBackupEnd): Promise<Window> {
    const { store, prefix } = this.#locate(archive);
    const table = this.deps.capability.table;
    const c = await readCatalogue(store, prefix, table.kind);
    return windowOf(c.objects, table, from).window;
  }

  #locate(archive?: StorageLocation): { store: ObjectStorage; prefix: string } {
    if (archive?.location) return { store: this.deps.store(archive.storage || this.deps.defaultStorage), prefix: archive.location };
    const active = this.#active;
    if (active) return { store: active.store, prefix: active.prefix };
    const saved = readArchiveSettings(this.deps.agentDir);
    return {
      store: this.deps.store(saved?.storage.storage || this.deps.defaultStorage),
      prefix: saved?.storage.location || defaultArchivePrefix(this.deps.instanceId),
    };
  }

  /**
   * Deletes the archived objects wholly before the point: their last commit
   * before `beforeTimeMs` (or, holding none, closed before it) and, when a
   * position is given, ending at or before it (the oldest kept backup's
   * start). Only this instance's own archive: its agent is its one writer.
   */
  async prune(beforeTimeMs: number, beforePosition: string): Promise<{ deleted: number; remaining: Window }> {
    const active = this.#active;
    if (!active) throw new CofferError('NOT_READY', 'archiving is off on this instance: there is no archive of its own to prune');
    const table = this.deps.capability.table;
    if (beforePosition) {
      const bad = table.checkPosition(beforePosition);
      if (bad) throw new CofferError('INVALID_ARGUMENT', `before_position ${JSON.stringify(beforePosition)}: ${bad}`);
    }
    const catalogue = await this.#catalogueOf(active);
    const seq = catalogue.objects.filter((o) => table.inSequence(o.name));
    const doomed = seq.filter(
      (o) => (o.lastCommitMs || o.closedAtMs) < beforeTimeMs && (!beforePosition || table.comparePositions(o.endPosition, beforePosition) <= 0),
    );
    // The newest object always stays: it is where the window ends.
    if (doomed.length === seq.length) doomed.pop();
    const names = new Set(doomed.map((o) => o.name));
    // The catalogue first: an object it no longer lists is never planned.
    await catalogue.remove(names);
    for (const o of doomed) await active.store.delete(active.store.locationOf(o.key));
    return { deleted: doomed.length, remaining: windowOf(catalogue.objects, table).window };
  }

  async status(): Promise<ArchiveStatus> {
    const cap = this.deps.capability;
    const active = this.#active;
    const waiting = active ? await cap.waiting().catch(() => []) : [];
    const now = Date.now();
    const oldest = waiting.reduce((m, w) => Math.min(m, w.closedAtMs), Number.POSITIVE_INFINITY);
    let archived: RestorableWindow | undefined;
    if (active) {
      const catalogue = await active.catalogue.catch(() => undefined);
      if (catalogue) archived = windowOf(catalogue.objects, cap.table).window;
    }
    return {
      enabled: !!active,
      storage: active ? { storage: active.store.name, location: active.prefix } : undefined,
      lastArchived: this.#last?.name ?? '',
      lastArchivedAtMs: this.#last?.archivedAtMs ?? 0,
      pendingCount: waiting.length,
      pendingBytes: waiting.reduce((s, w) => s + w.bytes, 0),
      lagSeconds: Number.isFinite(oldest) ? Math.max(0, (now - oldest) / 1000) : 0,
      localLogBytes: await cap.localLogBytes().catch(() => 0),
      failedCount: this.#failedCount,
      lastError: this.#lastError,
      lastErrorAtMs: this.#lastError ? this.#lastErrorAtMs : 0,
      archived,
      archiveTimeoutSeconds: active?.settings.archiveTimeoutSeconds ?? 0,
      retentionDays: active?.settings.retentionDays ?? 0,
    };
  }

  close(): void {
    this.#active?.uploader.close();
  }
}
