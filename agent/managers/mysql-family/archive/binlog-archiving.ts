// Runs the binlog archiver's passes (binlog-archiver.ts) on a timer while
// the server runs: every few seconds, or at once when asked (passNow). One
// pass at a time; a pass that fails (the server not answering) is logged
// and the next one tries again. Its last pass is what the status reports
// (pending files, their bytes, the lag).
import type { Logger } from '../../../../lib/logger.js';
import { BinlogArchiver, type ArchivePass, type BinlogArchiverOptions } from './binlog-archiver.js';

export interface BinlogArchivingOptions extends BinlogArchiverOptions {
  /** Between passes (default: a quarter of the archive timeout, 1 to 10 s). */
  readonly pollMs?: number;
  readonly log: Logger;
}

export class BinlogArchiving {
  readonly #archiver: BinlogArchiver;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = true;
  #abort = new AbortController();
  #last: ArchivePass | undefined;

  constructor(private readonly o: BinlogArchivingOptions) {
    this.#archiver = new BinlogArchiver({ rotationLeadMs: () => this.pollMs + 1000, ...o });
  }

  get pollMs(): number {
    const timeout = this.o.archiveTimeoutSeconds() || 60;
    return this.o.pollMs ?? Math.min(10_000, Math.max(1000, (timeout * 1000) / 4));
  }

  /** The last pass (undefined before the first). */
  get last(): ArchivePass | undefined {
    return this.#last;
  }

  get running(): boolean {
    return !this.#stopped;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#abort = new AbortController();
    this.#schedule(0);
  }

  /** Stops the timer and waits for a pass under way (its hand-overs are the core's to finish or abort). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#abort.abort(new Error('binlog archiving is stopping'));
    await this.#running?.catch(() => undefined);
  }

  /** Runs a pass now, after the one under way. */
  async passNow(): Promise<ArchivePass | undefined> {
    await this.#running?.catch(() => undefined);
    const p = this.#pass();
    this.#running = p;
    await p;
    return this.#last;
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      const p = this.#pass();
      this.#running = p;
      void p.finally(() => this.#schedule(this.pollMs));
    }, delayMs);
    this.#timer.unref?.();
  }

  async #pass(): Promise<void> {
    try {
      this.#last = await this.#archiver.tick(this.#abort.signal);
    } catch (err) {
      if (this.#stopped) return;
      // The server stopped or not started yet: the next pass finds it running.
      if ((err as { kind?: string }).kind === 'NOT_READY') {
        this.o.log.debug({ err: (err as Error).message }, 'binlog archiving pass skipped: the server is not answering');
        return;
      }
      this.o.log.warn({ err: (err as Error)?.message ?? String(err) }, 'a binlog archiving pass failed; the next one tries again');
    }
  }
}
