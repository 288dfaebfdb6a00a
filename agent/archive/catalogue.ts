// The catalogue of an archive: every archived object with its range, kept in
// memory and written to "<prefix>/catalogue.json" (strategies/archive/
// layout.ts) after uploads. Writes are coalesced: uploads that finish while
// a write is under way are all listed by the next one, and record() settles
// only once a catalogue that lists its object is committed, which is what
// lets the uploader acknowledge a file. One writer per archive: the agent
// of the instance that archives.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { text } from 'node:stream/consumers';
import { CATALOGUE_VERSION, catalogueKey, parseCatalogue, type ArchiveCatalogue, type ArchiveKind, type ArchivedObject } from '../../strategies/archive/layout.js';
import { isCofferError } from '../../strategies/storage/errors.js';
import type { ObjectStorage } from '../../strategies/storage/storage.js';

/** Reads an archive's catalogue; an archive never written is an empty one. */
export async function readCatalogue(store: ObjectStorage, prefix: string, kind: ArchiveKind, signal?: AbortSignal): Promise<ArchiveCatalogue> {
  const key = catalogueKey(prefix);
  try {
    const object = await store.open(store.locationOf(key), signal ? { signal } : {});
    return parseCatalogue(await text(object.stream), `${store.name}:${key}`);
  } catch (err) {
    if (isCofferError(err) && err.kind === 'NOT_FOUND') return { version: CATALOGUE_VERSION, kind, instanceId: '', updatedAtMs: 0, objects: [] };
    throw err;
  }
}

export class ArchiveCatalogueWriter {
  #objects: ArchivedObject[];
  /** Names the last committed catalogue lists: what may be acknowledged. */
  #committed: Set<string>;
  #written: Promise<void> = Promise.resolve();
  #dirty: Promise<void> | undefined;

  constructor(
    private readonly store: ObjectStorage,
    private readonly prefix: string,
    private readonly kind: ArchiveKind,
    private readonly instanceId: string,
    initial: readonly ArchivedObject[],
    private readonly compareNames: (a: string, b: string) => number,
  ) {
    this.#objects = [...initial];
    this.#committed = new Set(initial.map((o) => o.name));
  }

  get objects(): readonly ArchivedObject[] {
    return this.#objects;
  }

  /** Adds (or replaces, for a file archived again) an object; resolves once a committed catalogue lists it. */
  record(object: ArchivedObject): Promise<void> {
    this.#objects = [...this.#objects.filter((o) => o.name !== object.name), object].sort((a, b) => this.compareNames(a.name, b.name));
    return this.#schedule();
  }

  /**
   * Resolves once a committed catalogue lists `name`, writing one when the
   * last write did not (it failed, or is still under way). An object held
   * in memory only is not archived yet: a kill now would lose its entry.
   */
  async committed(name: string): Promise<void> {
    if (this.#committed.has(name)) return;
    await this.#schedule();
    if (!this.#committed.has(name)) throw new Error(`the archive catalogue does not list ${name}`);
  }

  /** Drops objects (after PruneArchive deleted them) and writes the catalogue. */
  remove(names: ReadonlySet<string>): Promise<void> {
    this.#objects = this.#objects.filter((o) => !names.has(o.name));
    return this.#schedule();
  }

  #schedule(): Promise<void> {
    // One write waits behind the running one and takes every change made
    // until it starts.
    this.#dirty ??= this.#written.catch(() => undefined).then(() => {
      this.#dirty = undefined;
      return this.#write();
    });
    this.#written = this.#dirty;
    return this.#dirty;
  }

  async #write(): Promise<void> {
    const objects = this.#objects;
    const catalogue: ArchiveCatalogue = { version: CATALOGUE_VERSION, kind: this.kind, instanceId: this.instanceId, updatedAtMs: Date.now(), objects };
    const sink = this.store.save(catalogueKey(this.prefix), { metadata: { 'coffer-archive-catalogue': String(CATALOGUE_VERSION) } });
    await pipeline(Readable.from([Buffer.from(JSON.stringify(catalogue))]), sink.stream);
    await sink.done;
    this.#committed = new Set(objects.map((o) => o.name));
  }
}
