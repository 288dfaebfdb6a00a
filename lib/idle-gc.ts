// A full garbage collection once the process falls idle after work, when
// the runtime allows it (node --expose-gc, which lib/agent-node-flags.ts
// gives the agent). A backup or restore leaves tens of MB of dead Buffers
// and their backing stores behind; V8 frees them only at its next
// mark-compact, which an idle agent (a heartbeat every 10 s allocates next
// to nothing) may not reach for hours: the agent-memory bench saw 70 MB
// idle before a backup and 105 MB idle after it (docs/performance.md).
// One collection of a ~20 MB heap costs some tens of ms, once per operation.
const DELAY_MS = 2_000;

let timer: NodeJS.Timeout | null = null;

/** Collects once, DELAY_MS from now (later calls push it back); no-op without --expose-gc. */
export function collectWhenIdle(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== 'function') return;
  if (timer) clearTimeout(timer);
  timer = setTimeout(() => {
    timer = null;
    gc();
  }, DELAY_MS);
  // Never keeps the process alive by itself.
  timer.unref();
}
