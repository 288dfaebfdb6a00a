// The one module that starts processes. Every command is an argument array
// (never a shell string); secrets go through stdin or the environment, never
// argv. Output lines of long-running children go to the structured log.
import { execa, type ResultPromise } from 'execa';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { stdinForSpawn, type StdinSource } from './fd-handoff.js';
import type { Logger } from './logger.js';
import { spawnOnPty, type PtyChild, type PtySpawnOptions } from './pty-process.js';

export type { OpenFile } from './fd-handoff.js';
export type { PtyChild, PtySpawnOptions } from './pty-process.js';

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

/** The program's name for messages: never its arguments (paths with user-chosen names). */
export function programName(argv: readonly string[]): string {
  return path.basename(argv[0] ?? '') || 'program';
}

/** How a child ended, the one wording every message uses: "exited with code 1", "was killed by SIGTERM". */
export function describeExit(exit: Exit): string {
  if (exit.signal !== null) return `was killed by ${exit.signal}`;
  if (exit.code !== null) return `exited with code ${exit.code}`;
  return 'could not start';
}

/** A child that ended badly, as an error: "<program> <how it ended>: <its last output lines>". */
export function exitFailure(argv: readonly string[], exit: Exit, outputTail: string, options?: { cause?: unknown }): CommandError {
  const why = describeExit(exit);
  return new CommandError(`${programName(argv)} ${why}${outputTail ? ': ' + outputTail : ''}`, argv, exit.code ?? undefined, exit.signal ?? undefined, outputTail, options);
}

/** After a stop, how long a child gets to exit on SIGTERM before its group is killed. */
export const DEFAULT_KILL_AFTER_MS = 3000;

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
      const stderrTail = tail(String(r.stderr ?? '') || String(r.stdout ?? ''));
      const exit = { code: r.exitCode ?? null, signal: r.signal ?? null };
      if (r.isCanceled || r.timedOut || (exit.code === null && exit.signal === null)) {
        const why = r.isCanceled ? 'was cancelled' : r.timedOut ? `timed out after ${opts.timeoutMs} ms` : `could not start (${r.originalMessage ?? r.shortMessage})`;
        throw new CommandError(`${programName(argv)} ${why}${stderrTail ? ': ' + stderrTail : ''}`, argv, r.exitCode, r.signal, stderrTail, { cause: r.cause });
      }
      throw exitFailure(argv, exit, stderrTail, { cause: r.cause });
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
    const stdin = stdinForSpawn(opts.stdin);
    const child = execa(file, args, {
      cwd: opts.cwd,
      env: opts.env,
      extendEnv: true,
      uid: opts.uid,
      gid: opts.gid,
      detached: true,
      stdin: stdin.stdio,
      stdout: opts.stdout ?? 'pipe',
      stderr: 'pipe',
      reject: false,
      buffer: false,
      encoding: 'buffer',
    });
    stdin.afterSpawn();
    return new ChildHandle(argv, child, opts.logger ?? this.log, opts.logOutput !== false, opts);
  }

  /**
   * Starts a child on a pseudo-terminal of its own (lib/pty-process.ts):
   * the console's datastore client. Its output is the terminal's, for the
   * caller to relay, and never logged (it is what a person typed and saw).
   */
  async spawnPty(argv: readonly string[], opts: PtySpawnOptions): Promise<PtyChild> {
    const child = await spawnOnPty(argv, opts);
    this.log.debug({ cmd: argv, childPid: child.pid }, 'spawn on a pseudo-terminal');
    return child;
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
   * (a fs/promises FileHandle), which the child reads directly
   * (lib/fd-handoff.ts).
   */
  stdin?: StdinSource;
  /** Log stdout/stderr lines (default true). Off for binary stdout. */
  logOutput?: boolean;
  /** Called with each output line (stderr always; stdout when it is logged), e.g. to read a tool's progress. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /**
   * Stops the child when it aborts: `stopSignal` (SIGTERM) to its process
   * group (or to the child alone with stopScope 'process'), SIGKILL to the
   * group after killAfterMs. ChildHandle.cancelled tells afterwards.
   */
  signal?: AbortSignal;
  /** How long a stop waits before SIGKILL (default DEFAULT_KILL_AFTER_MS). */
  killAfterMs?: number;
  stopSignal?: NodeJS.Signals;
  stopScope?: 'group' | 'process';
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
  private abortedBy: AbortSignal | null = null;
  private readonly killAfterMs: number;
  private readonly stopSignal: NodeJS.Signals;
  private readonly stopScope: 'group' | 'process';

  constructor(
    readonly argv: readonly string[],
    private readonly child: ResultPromise,
    log: Logger,
    logOutput: boolean,
    opts: Pick<SpawnOptions, 'signal' | 'killAfterMs' | 'stopSignal' | 'stopScope' | 'onLine'> = {},
  ) {
    this.killAfterMs = opts.killAfterMs ?? DEFAULT_KILL_AFTER_MS;
    this.stopSignal = opts.stopSignal ?? 'SIGTERM';
    this.stopScope = opts.stopScope ?? 'group';
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
          opts.onLine?.(line, stream);
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
    const { signal } = opts;
    if (signal) {
      const onAbort = (): void => {
        this.abortedBy = signal;
        void this.stop();
      };
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        void this.exited.then(() => signal.removeEventListener('abort', onAbort));
      }
    }
  }

  /** The spawn's signal aborted while the child ran (it was stopped for that). */
  get cancelled(): boolean {
    return this.abortedBy !== null;
  }

  /** The child's program name, for messages. */
  get program(): string {
    return programName(this.argv);
  }

  /**
   * The child's end as an error: its exit status and its last output lines
   * (`lines` of them; `keep` drops lines that are not about a failure).
   */
  failure(exit: Exit, opts: { lines?: number; keep?: (line: string) => boolean } = {}): CommandError {
    let lines = this.lines.filter((l) => l.trim() && (opts.keep?.(l.trim()) ?? true));
    if (opts.lines !== undefined) lines = lines.slice(-opts.lines);
    return exitFailure(this.argv, exit, lines.join('\n'));
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
  async exitOrStop(waitMs: number = this.killAfterMs, graceMs: number = this.killAfterMs): Promise<Exit> {
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
   * Defaults: the spawn's killAfterMs, stopSignal and stopScope.
   */
  async stop(graceMs: number = this.killAfterMs, signal: NodeJS.Signals = this.stopSignal, scope: 'group' | 'process' = this.stopScope): Promise<Exit> {
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
