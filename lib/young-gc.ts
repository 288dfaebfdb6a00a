// Young-generation collections paced by the bytes a data path allocates,
// when the runtime allows it (node --expose-gc, which lib/agent-node-flags.ts
// gives the agent).
//
// Why: a backup or restore allocates a fresh Buffer for every read and for
// every cipher output, tens of bytes of heap each but 64 KiB of memory
// outside it. V8 counts that outside memory against the old generation's
// limit since the last mark-compact, and a heap of ~17 MB had ~5 MB of
// headroom: the agent ran a full mark-compact of its whole heap every 10 to
// 15 MB moved (12 to 17 per 110 MB backup or restore; docs/performance.md,
// issue 16). The Buffers are dead long before then,
// but with so little heap allocated per byte V8 seldom scavenges, and only
// a scavenge or a mark-compact frees them. A scavenge of a 1 MiB young
// generation costs well under a millisecond and frees every dead young
// Buffer with its memory, so one every 4 MiB (of the bytes a data path counts) keeps the outside memory low
// and the mark-compacts away (with lib/agent-node-flags.ts's
// --heap-growing-percent: 1 to 3 per backup or restore), and lowers the
// peak too, since the dead Buffers no longer wait for a mark-compact.
const DEFAULT_EVERY_BYTES = 4 * 1024 * 1024;

type Collect = (options: { type: 'minor'; execution: 'sync' }) => void;

/** Counts bytes; every `everyBytes` of them, one synchronous young-generation collection. No-op without --expose-gc. */
export class YoungCollector {
  private since = 0;
  private readonly collect: Collect | undefined;

  constructor(private readonly everyBytes = DEFAULT_EVERY_BYTES) {
    const gc = (globalThis as { gc?: unknown }).gc;
    this.collect = typeof gc === 'function' ? (gc as Collect) : undefined;
  }

  /** True if this process can collect (it runs with --expose-gc). */
  get active(): boolean {
    return this.collect !== undefined;
  }

  readonly add = (n: number): void => {
    if (!this.collect) return;
    this.since += n;
    if (this.since < this.everyBytes) return;
    this.since = 0;
    this.collect({ type: 'minor', execution: 'sync' });
  };
}
