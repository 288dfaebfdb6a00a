// The archive uploader: closed segments or binlogs in, durable archived
// objects out, with bounded parallelism. `archive()` settles only once the
// object AND its catalogue entry are durable in the store, which is when the
// datastore may forget the file (PostgreSQL's archive_command answers, a
// binlog may be purged). A failure rejects that one call and leaves the
// file where it is: the datastore asks again (PostgreSQL keeps the WAL while
// archive_command fails), so a store that goes away makes archiving fall
// behind, never lose anything. The same file asked for twice (a retry, or
// the look-ahead that starts uploads before the datastore asks) shares one
// upload.
import type { ArchivedObject } from '../../strategies/archive/layout.js';

/** One closed log file to archive. */
export interface ArchiveItem {
  /** The datastore's file name (archive objects are named after it). */
  readonly name: string;
  /** Where the file is now. */
  readonly path: string;
  /** When the datastore handed it over (ms), for the lag and the object's range. */
  readonly closedAtMs: number;
}

/** Stores one item: compress, encrypt, upload; resolves with the object once it is committed. */
export type StoreItem = (item: ArchiveItem, signal: AbortSignal) => Promise<ArchivedObject>;

/** Records a stored object in the catalogue; resolves once the catalogue in the store lists it. */
export type RecordObject = (object: ArchivedObject) => Promise<void>;

export interface UploaderOptions {
  /** Uploads in flight at once (>= 1). */
  readonly parallelism: number;
  readonly store: StoreItem;
  readonly record: RecordObject;
  /** Told of every failure (status, metrics, the log). */
  readonly onFailure?: (item: ArchiveItem, err: unknown) => void;
  readonly onArchived?: (object: ArchivedObject) => void;
}

export class ArchiveUploader {
  readonly #opts: UploaderOptions;
  readonly #inFlight = new Map<string, { item: ArchiveItem; done: Promise<ArchivedObject> }>();
  readonly #waiting: Array<() => void> = [];
  #running = 0;
  readonly #abort = new AbortController();

  constructor(opts: UploaderOptions) {
    if (!Number.isInteger(opts.parallelism) || opts.parallelism < 1) throw new TypeError(`parallelism must be a whole number >= 1, not ${opts.parallelism}`);
    this.#opts = opts;
  }

  /** Archives `item`, or joins the upload of the same name already under way. */
  archive(item: ArchiveItem): Promise<ArchivedObject> {
    const running = this.#inFlight.get(item.name);
    if (running) return running.done;
    const done = this.#run(item).finally(() => this.#inFlight.delete(item.name));
    this.#inFlight.set(item.name, { item, done });
    return done;
  }

  /** Names being uploaded or queued now, with when they were closed (for the lag). */
  pending(): ArchiveItem[] {
    return [...this.#inFlight.values()].map((e) => e.item);
  }

  /** Stops: running uploads are aborted (their partial objects removed by the sinks), queued ones rejected. */
  close(): void {
    this.#abort.abort(new Error('the archive uploader is stopping'));
    for (const wake of this.#waiting.splice(0)) wake();
  }

  async #run(item: ArchiveItem): Promise<ArchivedObject> {
    await this.#slot();
    try {
      this.#abort.signal.throwIfAborted();
      const object = await this.#opts.store(item, this.#abort.signal);
      await this.#opts.record(object);
      this.#opts.onArchived?.(object);
      return object;
    } catch (err) {
      this.#opts.onFailure?.(item, err);
      throw err;
    } finally {
      this.#running--;
      this.#waiting.shift()?.();
    }
  }

  async #slot(): Promise<void> {
    while (this.#running >= this.#opts.parallelism) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
      this.#abort.signal.throwIfAborted();
    }
    this.#running++;
  }
}
