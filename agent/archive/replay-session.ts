// What the datastore fetches during a restore to a point (PostgreSQL's
// restore_command through the local socket): each archived file by name,
// verified and decrypted by fetchArchived. PostgreSQL asks for one segment
// at a time and replays it before asking for the next, so while it replays
// one, the next in the archive's order is fetched (one ahead: a segment is
// 16 MiB of memory until it is asked for). The first integrity failure is
// kept and `failed` rejects with it, which stops the restore (the caller
// races the replay with it) before the datastore applies anything of the
// damaged file; the datastore itself is only told "not found".
import { CofferError } from '../../lib/coded-error.js';
import type { ArchivedObject } from '../../strategies/archive/layout.js';
import { fetchArchived, type FetchDeps } from './fetch-object.js';

export class ReplaySession {
  readonly #byName: ReadonlyMap<string, ArchivedObject>;
  /** Names in the archive's order (WAL segment names sort as they are written). */
  readonly #order: readonly string[];
  readonly #position: ReadonlyMap<string, number>;
  /** The fetch started ahead of the datastore's request, by name. */
  readonly #ahead = new Map<string, Promise<Buffer>>();
  #failure: Error | undefined;
  #fail!: (err: Error) => void;
  /** Rejects with the first integrity failure; never resolves. */
  readonly failed: Promise<never>;
  /** The last file handed to the datastore, for progress. */
  lastServed = '';
  served = 0;

  constructor(
    objects: readonly ArchivedObject[],
    private readonly deps: FetchDeps,
    private readonly signal: AbortSignal,
  ) {
    this.#byName = new Map(objects.map((o) => [o.name, o]));
    this.#order = [...this.#byName.keys()].sort();
    this.#position = new Map(this.#order.map((n, i) => [n, i]));
    this.failed = new Promise<never>((_, reject) => (this.#fail = reject));
    this.failed.catch(() => undefined);
  }

  get failure(): Error | undefined {
    return this.#failure;
  }

  /** The file's bytes, or undefined when the archive does not hold it. */
  async fetch(name: string): Promise<Buffer | undefined> {
    if (this.#failure) throw this.#failure;
    const o = this.#byName.get(name);
    if (!o) return undefined;
    const pending = this.#ahead.get(name) ?? fetchArchived(o, this.deps, this.signal);
    this.#ahead.delete(name);
    this.#fetchAfter(name);
    try {
      const bytes = await pending;
      this.lastServed = name;
      this.served++;
      return bytes;
    } catch (err) {
      if ((err as CofferError).kind === 'INTEGRITY' && !this.#failure) {
        this.#failure = err as Error;
        this.#fail(err as Error);
      }
      throw err;
    }
  }

  /** Starts fetching the file after `name` (its failure is reported when it is asked for). */
  #fetchAfter(name: string): void {
    const next = this.#order[this.#position.get(name)! + 1];
    if (next === undefined || this.#ahead.has(next) || this.signal.aborted) return;
    const p = fetchArchived(this.#byName.get(next)!, this.deps, this.signal);
    p.catch(() => undefined);
    this.#ahead.set(next, p);
  }
}
