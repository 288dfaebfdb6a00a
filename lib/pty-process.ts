// A child on a pseudo-terminal (node-pty): the console's datastore client.
// Owned by process-runner.ts (ProcessRunner.spawnPty is the way in), under
// the same rules: an argv array, never a shell string; the environment is
// exactly what the caller gives (nothing inherited, so no secret of the
// parent's leaks in); an AbortSignal stops the child; a stop is SIGHUP to
// its process group (what a terminal that goes away sends), then SIGKILL
// after a grace period. forkpty makes the child a session leader, so its
// process group is its pid and everything it started is in it.
import type { IPty } from 'node-pty';
import { DEFAULT_KILL_AFTER_MS, type Exit } from './process-runner.js';

export interface PtySpawnOptions {
  /** The child's whole environment: nothing of this process's is inherited. */
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly columns: number;
  readonly rows: number;
  readonly uid?: number;
  readonly gid?: number;
  /** Stops the child when it aborts (SIGHUP to its group, SIGKILL after killAfterMs). */
  readonly signal?: AbortSignal;
  readonly killAfterMs?: number;
}

/** Terminal sizes a client may ask for; node-pty refuses 0, and nothing needs more. */
export const MAX_PTY_DIMENSION = 1000;

export function checkPtySize(columns: number, rows: number): string | null {
  for (const [what, n] of [['columns', columns], ['rows', rows]] as const) {
    if (!Number.isInteger(n) || n < 1 || n > MAX_PTY_DIMENSION) return `${what} must be an integer 1-${MAX_PTY_DIMENSION}, got ${n}`;
  }
  return null;
}

/** A running child on a pseudo-terminal. */
export class PtyChild {
  readonly pid: number;
  /** Resolves once the child has exited and its last output has been read. */
  readonly exited: Promise<Exit>;
  private done = false;
  private stopping: Promise<Exit> | null = null;
  private readonly killAfterMs: number;

  constructor(private readonly pty: IPty, opts: Pick<PtySpawnOptions, 'signal' | 'killAfterMs'>) {
    this.pid = pty.pid;
    this.killAfterMs = opts.killAfterMs ?? DEFAULT_KILL_AFTER_MS;
    this.exited = new Promise<Exit>((resolve) => {
      pty.onExit(({ exitCode, signal }) => {
        this.done = true;
        resolve(signal ? { code: null, signal: signalName(signal) } : { code: exitCode, signal: null });
      });
    });
    const { signal } = opts;
    if (signal) {
      const onAbort = (): void => void this.stop();
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        void this.exited.then(() => signal.removeEventListener('abort', onAbort));
      }
    }
  }

  get running(): boolean {
    return !this.done;
  }

  /** Every chunk the child writes to its terminal. */
  onOutput(fn: (chunk: Buffer) => void): void {
    // With encoding null node-pty hands over the raw bytes (its typings say string).
    this.pty.onData((d) => fn(typeof d === 'string' ? Buffer.from(d, 'utf8') : (d as Buffer)));
  }

  /** Keystrokes, as a terminal would send them. */
  write(data: Buffer): void {
    if (!this.done) this.pty.write(data);
  }

  /** The terminal's new size: the child gets SIGWINCH. */
  resize(columns: number, rows: number): void {
    if (!this.done) this.pty.resize(columns, rows);
  }

  /** SIGHUP to the group, SIGKILL to it after graceMs; resolves on exit. */
  stop(graceMs: number = this.killAfterMs): Promise<Exit> {
    if (this.done) return this.exited;
    this.stopping ??= (async () => {
      this.signalGroup('SIGHUP');
      const timer = setTimeout(() => this.signalGroup('SIGKILL'), graceMs);
      try {
        return await this.exited;
      } finally {
        clearTimeout(timer);
      }
    })();
    return this.stopping;
  }

  private signalGroup(signal: NodeJS.Signals): void {
    if (this.done || this.pid <= 0) return;
    try {
      process.kill(-this.pid, signal);
    } catch {
      // Already gone.
    }
  }
}

const SIGNAL_NAMES: Readonly<Record<number, string>> = { 1: 'SIGHUP', 2: 'SIGINT', 9: 'SIGKILL', 15: 'SIGTERM' };
const signalName = (n: number): string => SIGNAL_NAMES[n] ?? `signal ${n}`;

/** Starts argv on a new pseudo-terminal. node-pty is loaded on first use only (a native addon most processes never need). */
export async function spawnOnPty(argv: readonly string[], opts: PtySpawnOptions): Promise<PtyChild> {
  const [file, ...args] = argv;
  if (!file) throw new TypeError('spawnPty: empty argv');
  const sizeError = checkPtySize(opts.columns, opts.rows);
  if (sizeError) throw new TypeError(`spawnPty: ${sizeError}`);
  const { spawn } = await import('node-pty');
  const pty = spawn(file, args, {
    name: opts.env.TERM ?? 'xterm-256color',
    cols: opts.columns,
    rows: opts.rows,
    cwd: opts.cwd,
    env: { ...opts.env },
    encoding: null,
    uid: opts.uid,
    gid: opts.gid,
  } as Parameters<typeof spawn>[2]);
  return new PtyChild(pty, opts);
}
