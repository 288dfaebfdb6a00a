// Group commit: work submitted in the same turn of the event loop is
// written in one SQLite transaction, and each submitter hears its own
// result after the commit. Thousands of agents reporting at once then cost
// a few transactions, not thousands (docs/performance.md, control plane).
export class GroupCommit<T, R> {
  private pending: Array<{ item: T; resolve: (r: R) => void; reject: (e: unknown) => void }> = [];
  private scheduled = false;

  /** `commit` runs the whole batch in one transaction and returns one result per item, in order. */
  constructor(private readonly commit: (items: readonly T[]) => R[]) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    this.scheduled = false;
    let results: R[];
    try {
      results = this.commit(batch.map((b) => b.item));
    } catch (err) {
      for (const b of batch) b.reject(err);
      return;
    }
    batch.forEach((b, i) => b.resolve(results[i]!));
  }
}
