// The one module that starts processes. Every command is an argument array
// (never a shell string); secrets go through stdin or the environment, never
// argv. Output lines of long-running children go to the structured log.
import { execa, type ResultPromise } from 'execa';
import { readFileSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from './logger.js';

export class CommandError extends Error {
  constructor(
    message: string,
    readonly argv: readonly string[],
    readonly exitCode: number | undefined,
    readonly signal: string | undefined,
    readonly stderrTail: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CommandError';
  }
}

export interface RunOptions {
  cwd?: string;
  /** Extra environment (merged over a minimal one). Never logged. */
  env?: Record<string, string>;
  /** Written to stdin, then closed: the way to hand a command a secret. */
  input?: string | Buffer;
  uid?: number;
  gid?: number;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** After a cancel or timeout, SIGKILL if still alive after this long. */
  killAfterMs?: number;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

const MAX_TAIL = 4000;

function tail(s: string): string {
  const t = s.trim();
  return t.length > MAX_TAIL ? '…' + t.slice(-MAX_TAIL) : t;
}

function describe(argv: readonly string[]): string {
  // Only the program name and its flags' names: values may be paths with
  // user-chosen names; secrets are never in argv in the first place.
  return argv[0] ?? '';
}

export class ProcessRunner {
  constructor(private readonly log: Logger) {}

  /** Runs a command to completion; rejects with CommandError naming the tool's stderr. */
  async run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const [file, ...args] = argv;
    if (!file) throw new TypeError('run: empty argv');
    this.log.debug({ cmd: argv }, 'run');
    const child = execa(file, args, {
      cwd: opts.cwd,
      env: opts.env,
      extendEnv: true,
      input: opts.input,
      stdin: opts.input === undefined ? 'ignore' : undefined,
      uid: opts.uid,
      gid: opts.gid,
      cancelSignal: opts.signal,
      timeout: opts.timeoutMs,
      forceKillAfterDelay: opts.killAfterMs ?? 5000,
      reject: false,
      encoding: 'utf8',
      stripFinalNewline: true,
    });
    const r = await child;
    if (r.failed) {
      const why = r.isCanceled
        ? 'was cancelled'
        : r.timedOut
          ? `timed out after ${opts.timeoutMs} ms`
          : r.signal
            ? `was killed by ${r.signal}`
            : r.exitCode === undefined
              ? `could not start (${r.originalMessage ?? r.shortMessage})`
              : `exited with code ${r.exitCode}`;
      const stderrTail = tail(String(r.stderr ?? '') || String(r.stdout ?? ''));
      throw new CommandError(
        `${describe(argv)} ${why}${stderrTail ? ': ' + stderrTail : ''}`,
        argv,
        r.exitCode,
        r.signal,
        stderrTail,
        { cause: r.cause },
      );
    }
    return { stdout: String(r.stdout), stderr: String(r.stderr) };
  }

  /**
   * Starts a long-running child in its own process group, so that stopping
   * it reaches everything it started. Its output lines go to the log; the
   * last lines are kept for error messages.
   */
  spawn(argv: readonly string[], opts: SpawnOptions = {}): ChildHandle {
    const [file, ...args] = argv;
    if (!file) throw new TypeError('spawn: empty argv');
    // Another child's stdout as this one's stdin: the new child is given the
    // pipe itself, and this process closes its own copy right after, so no
    // byte passes through here and the writer's exit is the reader's EOF.
    const upstream = opts.stdin instanceof ChildHandle ? opts.stdin.releaseStdout() : undefined;
    // An open file's descriptor as stdin: the child reads the file itself
    // (from the descriptor's current offset), never this process.
    // (execa's types name only descriptors 3 to 9; it passes any to spawn.)
    const fileStdin = isOpenFile(opts.stdin) ? (opts.stdin.fd as 3) : undefined;
    const child = execa(file, args, {
      cwd: opts.cwd,
      env: opts.env,
      extendEnv: true,
      uid: opts.uid,
      gid: opts.gid,
      detached: true,
      stdin: upstream ?? fileStdin ?? (opts.stdin as 'pipe' | 'ignore' | undefined) ?? 'ignore',
      stdout: opts.stdout ?? 'pipe',
      stderr: 'pipe',
      reject: false,
      buffer: false,
      encoding: 'buffer',
    });
    upstream?.destroy();
    return new ChildHandle(argv, child, opts.logger ?? this.log, opts.logOutput !== false);
  }
}

export interface SpawnOptions {
  cwd?: string;
  env?: Record<string, string>;
  uid?: number;
  gid?: number;
  logger?: Logger;
  /** 'pipe' to read stdout as a stream (backups); default: lines to the log. */
  stdout?: 'pipe' | 'ignore';
  /**
   * 'pipe' to write to it; a child whose stdout (not yet read from, see
   * ChildHandle.releaseStdout) becomes this child's stdin; or an open file
   * (a fs/promises FileHandle), which the child reads directly.
   */
  stdin?: 'pipe' | 'ignore' | ChildHandle | OpenFile;
  /** Log stdout/stderr lines (default true). Off for binary stdout. */
  logOutput?: boolean;
}

/** An open file descriptor, such as a fs/promises FileHandle. */
export interface OpenFile {
  readonly fd: number;
}

function isOpenFile(x: unknown): x is OpenFile {
  return typeof x === 'object' && x !== null && !(x instanceof ChildHandle) && Number.isInteger((x as OpenFile).fd) && (x as OpenFile).fd >= 0;
}

export interface Exit {
  code: number | null;
  signal: string | null;
}

const TAIL_LINES = 30;

/** A running child started by ProcessRunner.spawn. */
export class ChildHandle {
  readonly pid: number;
  readonly exited: Promise<Exit>;
  private readonly lines: string[] = [];
  private done = false;
  private stdoutReleased = false;

  constructor(
    readonly argv: readonly string[],
    private readonly child: ResultPromise,
    log: Logger,
    logOutput: boolean,
  ) {
    if (child.pid === undefined) {
      // execa reports spawn failures through the promise; keep pid 0.
      this.pid = 0;
    } else {
      this.pid = child.pid;
    }
    const program = argv[0];
    const onLine = (stream: 'stdout' | 'stderr') => {
      let partial = '';
      return (chunk: Buffer) => {
        const text = partial + chunk.toString('utf8');
        const parts = text.split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) {
          if (!line) continue;
          this.lines.push(line);
          if (this.lines.length > TAIL_LINES) this.lines.shift();
          if (logOutput) log.info({ program, childPid: this.pid, stream }, line);
        }
      };
    };
    child.stderr?.on('data', onLine('stderr'));
    if (logOutput && child.stdout) child.stdout.on('data', onLine('stdout'));
    this.exited = child.then(
      (r) => {
        this.done = true;
        if (r.exitCode === undefined && r.signal === undefined && r.failed) {
          this.lines.push(String(r.originalMessage ?? r.shortMessage));
        }
        return { code: r.exitCode ?? null, signal: r.signal ?? null };
      },
      (err: unknown) => {
        this.done = true;
        this.lines.push(String((err as Error)?.message ?? err));
        return { code: null, signal: null };
      },
    );
  }

  /** null once released to another child. */
  get stdout(): Readable | null {
    return this.stdoutReleased ? null : this.child.stdout;
  }

  /**
   * True while stdout is a pipe nothing has read from: only then can it be
   * handed to another child without losing bytes. Node starts reading a
   * child's stdout as soon as the event loop runs, so a hand-off has to
   * happen before that; paused, what was read waits in the stream's buffer,
   * which this checks.
   */
  get stdoutReleasable(): boolean {
    const s = this.child.stdout;
    return !this.stdoutReleased && s !== null && !s.destroyed && s.readableFlowing !== true && s.readableLength === 0 && !s.readableEnded;
  }

  /** Gives up this process's reading end of stdout, for ProcessRunner.spawn's stdin. */
  releaseStdout(): Readable {
    const s = this.child.stdout;
    if (!s || !this.stdoutReleasable) throw new Error(`${this.argv[0]}: stdout cannot be handed on (not a pipe, or already read from)`);
    this.stdoutReleased = true;
    return s;
  }

  get stdin(): Writable | null {
    return this.child.stdin;
  }

  get running(): boolean {
    return !this.done;
  }

  /**
   * Bytes the child has read and written so far (Linux /proc/<pid>/io
   * rchar/wchar: every read and write call, pipes included), or undefined
   * once it has exited or where /proc cannot tell. For progress of bytes
   * that flow between children and never pass through this process.
   */
  ioCounters(): { readBytes: number; writtenBytes: number } | undefined {
    if (this.done || this.pid <= 0) return undefined;
    try {
      const text = readFileSync(`/proc/${this.pid}/io`, 'utf8');
      const r = /^rchar:\s*(\d+)$/m.exec(text);
      const w = /^wchar:\s*(\d+)$/m.exec(text);
      return r && w ? { readBytes: Number(r[1]), writtenBytes: Number(w[1]) } : undefined;
    } catch {
      return undefined;
    }
  }

  /** The last lines the child wrote, for error messages. */
  outputTail(): string {
    return this.lines.join('\n');
  }

  /** Signals the child's whole process group. */
  signalGroup(signal: NodeJS.Signals): void {
    if (this.done || this.pid <= 0) return;
    try {
      process.kill(-this.pid, signal);
    } catch {
      // Already gone.
    }
  }

  /** Signals the child process alone (not the rest of its group). */
  signalProcess(signal: NodeJS.Signals): void {
    if (this.done || this.pid <= 0) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      // Already gone.
    }
  }

  /**
   * Gives a child that is already on its way out (it closed its stdin, so
   * writes to it fail with EPIPE) waitMs to exit by itself, so that its own
   * exit status and stderr, not our SIGTERM, are what is reported; then
   * stops it as stop(graceMs) does.
   */
  async exitOrStop(waitMs: number, graceMs: number): Promise<Exit> {
    if (this.done) return await this.exited;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), waitMs)));
    try {
      const first = await Promise.race([this.exited, late]);
      return first === 'late' ? await this.stop(graceMs) : first;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * `signal` (SIGTERM) to the group, or to the child alone with scope
   * 'process' (a server that stops its own children, like PostgreSQL's
   * postmaster); SIGKILL to the whole group after graceMs. Resolves on exit.
   */
  async stop(graceMs: number, signal: NodeJS.Signals = 'SIGTERM', scope: 'group' | 'process' = 'group'): Promise<Exit> {
    if (scope === 'process') this.signalProcess(signal);
    else this.signalGroup(signal);
    const timer = setTimeout(() => this.signalGroup('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
