// Live updates without reloading: each view polls the API while it is shown.
// A poll starts only after the previous one ended, so a slow control is
// never asked twice at once; stop() ends it when the view goes away.
export interface Poller {
  stop(): void;
  /** Runs the poll now (after an action), then keeps the rhythm. */
  now(): void;
}

export function poll(intervalMs: number, fn: () => Promise<void>): Poller {
  let stopped = false;
  let timer: number | undefined;
  let running = false;
  let again = false;
  const tick = async (): Promise<void> => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    window.clearTimeout(timer);
    try {
      await fn();
    } catch (err) {
      console.warn('poll failed', (err as Error).message);
    } finally {
      running = false;
    }
    if (stopped) return;
    if (again) {
      again = false;
      void tick();
      return;
    }
    timer = window.setTimeout(() => void tick(), intervalMs);
  };
  void tick();
  return {
    stop() {
      stopped = true;
      window.clearTimeout(timer);
    },
    now() {
      void tick();
    },
  };
}
