// The last safety net for what a test started: when the test process ends
// before its teardowns ran (tap's per-file timeout ends it that way), the
// agents, controls and datastores it started would run on with nobody to
// stop them. Each harness registers a synchronous stop here and removes it
// once its teardown has run. Not reached when the process is SIGKILLed.
const pending = new Set<() => void>();
let installed = false;

/** Runs `stop` at process exit unless the returned function is called first. */
export function stopAtExit(stop: () => void): () => void {
  if (!installed) {
    installed = true;
    process.once('exit', () => {
      for (const fn of pending) {
        try {
          fn();
        } catch {
          // best effort: the others still run
        }
      }
    });
  }
  pending.add(stop);
  return () => pending.delete(stop);
}
