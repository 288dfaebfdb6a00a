// The parts of one upload that are in flight at once (Swift segments, S3
// parts): at most `limit`, started in order, the first failure stopping the
// others. The caller fills the next part only once start() resolves, so the
// memory one upload holds is at most `limit` parts: those in flight and the
// one being filled together (start() waits until fewer than `limit` are in
// flight before it returns).
export class PartWindow {
  private readonly inFlight = new Set<Promise<void>>();
  private failure: Error | null = null;
  /** Aborted on the first failure (and by stop()): the other parts give up at once. */
  private readonly failFast = new AbortController();

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new TypeError(`parts in flight must be a positive integer, got ${limit}`);
  }

  /** How many parts are in flight now. */
  get size(): number {
    return this.inFlight.size;
  }

  /**
   * Starts `task` (its signal aborts when `signal` does or another part
   * fails), then waits until another part may be filled. Throws the first
   * failure of any part.
   */
  async start(task: (signal: AbortSignal) => Promise<void>, signal: AbortSignal): Promise<void> {
    if (this.failure) throw this.failure;
    const p: Promise<void> = task(AbortSignal.any([signal, this.failFast.signal]))
      .catch((err: unknown) => {
        this.failure ??= err instanceof Error ? err : new Error(String(err));
        this.failFast.abort(this.failure);
      })
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
    while (this.inFlight.size >= this.limit && !this.failure) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure;
  }

  /** Waits for every part in flight; throws the first failure. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure;
  }

  /** Stops the parts in flight and waits until each has settled (never throws). */
  async stop(): Promise<void> {
    if (!this.failFast.signal.aborted) this.failFast.abort(new Error('upload stopped'));
    while (this.inFlight.size > 0) await Promise.race(this.inFlight);
  }
}
