// A child's stdout as a Readable that can also be handed on, unread, to the
// next child. Backups move gigabytes from a datastore's tool into zstd (and,
// on restore, from zstd into the tool): read through this process, every
// byte costs the agent CPU and garbage on the two cores the tools need;
// handed on, the two children share an OS pipe and the agent only watches
// exit statuses. Consumers that cannot take a program (in-process gzip, a
// file) simply read the stream.
import { Readable } from 'node:stream';
import type { ChildHandle } from './process-runner.js';

export interface ProgramOutputOptions {
  /**
   * Settles once the output is complete and good: the program exited 0,
   * plus whatever else its owner checks. The stream ends only then, and a
   * consumer that took the program by hand-off waits for it instead.
   * Rejects with the reason the output is not to be trusted.
   */
  readonly completion: Promise<unknown>;
  /** Called once if a reader abandons the stream before its end (stop the program). */
  readonly onAbandon?: (err: Error | null) => void;
  readonly highWaterMark?: number;
}

export class ProgramOutput extends Readable {
  readonly completion: Promise<void>;
  private attached = false;
  private handedOff = false;
  private ended = false;

  constructor(
    readonly child: ChildHandle,
    private readonly opts: ProgramOutputOptions,
  ) {
    super({ highWaterMark: opts.highWaterMark ?? 64 * 1024 });
    this.completion = opts.completion.then(() => undefined);
    this.completion.catch(() => undefined); // its owners await it; never an unhandled rejection
    // Paused, not flowing: execa resumes a buffer:false stdout nobody reads,
    // which would throw bytes away before a reader or a hand-off comes.
    child.stdout?.pause();
    // Owners learn of failures through `completion`; an error emitted while
    // nobody reads (before a pipeline attaches, or after a hand-off) must
    // not take the process down.
    this.on('error', () => undefined);
  }

  /** True while no byte has been read, so the program can still be handed to another child. */
  get canHandOff(): boolean {
    return !this.attached && !this.handedOff && !this.destroyed && this.child.stdoutReleasable;
  }

  /**
   * For ProcessRunner.spawn's `stdin`: the next child reads this program's
   * stdout directly. This stream is not read afterwards; wait for
   * `completion` to know whether what the next child read was whole.
   */
  handOff(): ChildHandle {
    if (!this.canHandOff) throw new Error(`${this.child.argv[0]}: its output was already read and cannot be handed on`);
    this.handedOff = true;
    return this.child;
  }

  override _read(): void {
    const stdout = this.child.stdout;
    if (!stdout) {
      this.destroy(new Error(`${this.child.argv[0]}: stdout is not a pipe`));
      return;
    }
    if (!this.attached) {
      this.attached = true;
      stdout.on('data', (chunk: Buffer) => {
        if (!this.push(chunk)) stdout.pause();
      });
      stdout.once('end', () => {
        this.completion.then(
          () => {
            this.ended = true;
            if (!this.destroyed) this.push(null);
          },
          (err: unknown) => this.destroy(err instanceof Error ? err : new Error(String(err))),
        );
      });
      stdout.once('error', (err) => this.destroy(err));
      // A failure known before the end (the program died midway) fails the
      // reader at once instead of after the rest of the pipe drained.
      this.completion.catch((err: unknown) => {
        if (!this.destroyed) this.destroy(err instanceof Error ? err : new Error(String(err)));
      });
    }
    stdout.resume();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.handedOff) return cb(null);
    if (!this.ended) this.opts.onAbandon?.(err);
    // Unread output would keep the program blocked on a full pipe.
    this.child.stdout?.destroy();
    cb(err);
  }
}
