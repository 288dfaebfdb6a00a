// A datastore's tool as a backup source, and a tool fed a restore: the one
// tool-streaming helper every datastore's drivers use (MariaDB's, PostgreSQL's,
// Redis's). A tool's success needs both its exit status and the
// stream's: a tool that exits 0 after its input failed half-way has
// restored a prefix, which is a failure.
//
// Where a program produces the tool's input (zstd on restore), or consumes
// its output (zstd on backup), the bytes go from one child to the other
// through an OS pipe (ProgramOutput.handOff) and never through the agent.
import path from 'node:path';
import { Transform, pipeline as pipelineCb, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CofferError } from '../../lib/coded-error.js';
import type { BackupSource } from './source.js';
import { takeProgramOutput } from '../../lib/fd-handoff.js';
import { ProgramOutput } from '../../lib/program-output.js';
import { CommandError, DEFAULT_KILL_AFTER_MS, type ChildHandle, type Exit, type ProcessRunner, type SpawnOptions } from '../../lib/process-runner.js';
import type { BackupMetadata } from '../../proto/gen/coffer/agent/v1/backup.js';

export { DEFAULT_KILL_AFTER_MS } from '../../lib/process-runner.js';

export interface ToolSourceOptions extends Omit<SpawnOptions, 'stdout' | 'logOutput' | 'signal'> {
  /** Stops the tool (SIGTERM to its group, SIGKILL after killAfterMs) and fails the backup as CANCELLED. */
  readonly signal: AbortSignal;
  /**
   * Sees every chunk of stdout as it passes (must not keep it). Setting it
   * means the bytes pass through the agent: the output cannot be handed on.
   */
  readonly onChunk?: (chunk: Buffer) => void;
  /** After a clean exit: what the strategy records in the metadata (the tool's stderr is child.outputTail()). */
  readonly finish?: (child: ChildHandle) => Promise<Partial<BackupMetadata>>;
  /** Bytes appended after the tool's own output, once it exited cleanly (also means no hand-off). */
  readonly trailer?: Buffer;
  /** Runs once the tool has exited, whatever happened (temporary files, a held slot). */
  readonly cleanup?: () => Promise<void> | void;
}

/** A running tool whose stdout is a backup. */
export interface ToolSource extends BackupSource {
  readonly child: ChildHandle;
}

/**
 * Spawns a datastore's tool whose stdout is the backup stream. The stream
 * ends only after the tool exited 0 (and `finish` succeeded), so even a
 * consumer that forgets `done` cannot commit a truncated backup; any other
 * exit fails both the stream and `done` with the tool's own exit status and
 * stderr tail. An abort of the signal, or a reader that abandons the
 * stream, stops the tool's whole process group (SIGTERM, then SIGKILL after
 * killAfterMs). Without onChunk or trailer the stream is a ProgramOutput,
 * which the compression stage takes straight from the tool's stdout.
 */
export function spawnToolSource(runner: ProcessRunner, argv: readonly string[], o: ToolSourceOptions): ToolSource {
  const { signal, onChunk, finish, trailer, cleanup, ...spawnOpts } = o;
  const program = path.basename(argv[0] ?? 'tool');
  if (signal.aborted) throw cancelled(`${program} was cancelled before it started`, signal);
  // Binary stdout: the runner must not read it as log lines. stderr is kept as the tail for error messages.
  const child = runner.spawn(argv, { ...spawnOpts, signal, killAfterMs: o.killAfterMs ?? DEFAULT_KILL_AFTER_MS, stdout: 'pipe', logOutput: false });
  let abandoned = false;
  const exitOk = child.exited.then((exit) => {
    if (child.cancelled) throw cancelled(`${program} was stopped`, signal);
    if (abandoned) throw new CofferError('CANCELLED', `${program} was stopped: the backup stream was closed before the tool finished`);
    if (exit.code !== 0) throw toolFailure(child, exit);
  });
  const onAbandon = (): void => {
    if (!child.running) return;
    abandoned = true;
    void child.stop();
  };
  if (!onChunk && !trailer?.length) {
    const done = exitOk.then(() => finish?.(child) ?? {}).finally(cleanup);
    // The caller may fail before it awaits `done`: never an unhandled rejection.
    done.catch(() => undefined);
    return { stream: new ProgramOutput(child, { completion: done, onAbandon }), done, child };
  }

  // The bytes pass through a filter that sees them. `finish` reads what the
  // filter saw (a dump's closing comments), so it runs when the filter has
  // seen the last byte, not when the tool exits: by then the tail may still
  // wait, unread, in the buffers between the tool and a slow reader.
  let finished!: { resolve: (m: Partial<BackupMetadata>) => void; reject: (e: unknown) => void };
  const metadata = new Promise<Partial<BackupMetadata>>((resolve, reject) => (finished = { resolve, reject }));
  exitOk.catch((err: unknown) => finished.reject(err));
  const output = new ProgramOutput(child, { completion: exitOk, onAbandon });
  const gate = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      onChunk?.(chunk);
      cb(null, chunk);
    },
    flush(cb) {
      // The output ended, so the tool exited 0: the trailer follows a whole dump.
      Promise.resolve(finish?.(child) ?? {}).then(
        (m) => {
          if (trailer?.length) this.push(trailer);
          finished.resolve(m);
          cb();
        },
        (err: unknown) => {
          finished.reject(err);
          cb(err instanceof Error ? err : new Error(String(err)));
        },
      );
    },
  });
  pipelineCb(output, gate, (err) => {
    // A reader that went away stopped the tool (onAbandon): its exit says
    // why. If the tool had finished already, the backup was still not read
    // to its end.
    if (err) {
      exitOk.then(
        () => finished.reject(new CofferError('CANCELLED', `${program}'s output was not read to its end: ${err.message}`, { cause: err })),
        () => undefined,
      );
    }
  });
  // Cleanup follows the tool's exit (what it needed, such as an option
  // file, is no longer read); `done` settles only after it, as without a filter.
  const cleaned = child.exited.then(() => cleanup?.());
  cleaned.catch(() => undefined); // reported through `done`
  const done = metadata.finally(() => cleaned);
  done.catch(() => undefined);
  return { stream: gate, done, child };
}

/** Spawns a tool with `input` on its stdin: handed on from the program that produces it where it can be, else written from here. */
export function spawnFed(runner: ProcessRunner, argv: readonly string[], input: Readable, opts: Omit<SpawnOptions, 'stdin'> = {}): { child: ChildHandle; direct: ProgramOutput | undefined } {
  const take = takeProgramOutput(input);
  if (take) return { child: runner.spawn(argv, { ...opts, stdin: take.donor }), direct: take.from };
  return { child: runner.spawn(argv, { ...opts, stdin: 'pipe' }), direct: undefined };
}

export interface FeedToolOptions extends Omit<SpawnOptions, 'stdin' | 'signal'> {
  /** Names the step in errors ("extracting backup X"). */
  readonly what?: string;
}

/**
 * Runs a tool (mbstream -x, tar -x, psql, the mariadb client) with `input`
 * on its stdin, and resolves once it exited 0 having read all of it, from an
 * input that was itself whole. An abort stops the tool's group (SIGTERM,
 * then SIGKILL after killAfterMs); a tool that quits reading first is
 * reported by its own exit status and stderr.
 */
export async function feedTool(runner: ProcessRunner, argv: readonly string[], input: Readable, signal: AbortSignal, opts: FeedToolOptions = {}): Promise<void> {
  const program = path.basename(argv[0] ?? 'tool');
  const what = opts.what ?? program;
  const killAfterMs = opts.killAfterMs ?? DEFAULT_KILL_AFTER_MS;
  if (signal.aborted) throw cancelled(`${what} was cancelled`, signal);
  const { what: _w, ...spawnOpts } = opts;
  const { child, direct } = spawnFed(runner, argv, input, { stdout: 'ignore', ...spawnOpts, killAfterMs, signal });
  // The runner stops the tool on abort; the input must stop too.
  const onAbort = (): void => void input.destroy();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    let inputError: Error | null = null;
    const fed = direct ? direct.completion : pipeline(input, child.stdin!);
    await fed.catch((err: unknown) => {
      // The input failed: the tool must not finish on a prefix as if it
      // were the whole.
      inputError = err instanceof Error ? err : new Error(String(err));
      input.destroy();
      // A broken pipe: the tool closed its input and is on its way out with
      // its own reason, which a SIGTERM from here would overwrite.
      // (Only EPIPE: a premature close of the input instead must not let the
      // tool go on to finish on a prefix.)
      if ((inputError as NodeJS.ErrnoException).code === 'EPIPE') void child.exitOrStop();
      else void child.stop();
    });
    const exit = await child.exited;
    if (signal.aborted) throw cancelled(`${what} was cancelled`, signal);
    // A broken pipe means the tool died first: its exit and stderr are the reason.
    const err = inputError as Error | null;
    if (err && !isPipeError(err)) {
      if (err instanceof CofferError) throw err;
      throw new CofferError('DATASTORE', `${what}: reading the backup failed: ${err.message}`, { cause: err });
    }
    if (exit.code !== 0) throw toolFailure(child, exit, opts.what);
    if (err) throw new CofferError('DATASTORE', `${what}: ${program} exited before reading all of its input`, { cause: err });
  } finally {
    signal.removeEventListener('abort', onAbort);
    if (child.running) void child.stop();
  }
}

/** A failed tool as the agent reports it: DATASTORE, with the last lines of its stderr. */
export function toolFailure(child: ChildHandle, exit: Exit, what?: string): CofferError {
  const cause = child.failure(exit, { lines: 8 });
  return new CofferError('DATASTORE', `${what ? what + ': ' : ''}${cause.message}`, { cause });
}

function cancelled(message: string, signal: AbortSignal): CofferError {
  return new CofferError('CANCELLED', `${message}: ${reasonOf(signal)}`);
}

/** Wraps a failed runner.run (CommandError) the same way, keeping cancellations apart. */
export function runFailure(err: unknown, what: string, signal: AbortSignal): CofferError {
  if (err instanceof CofferError) return err;
  if (signal.aborted) return new CofferError('CANCELLED', `${what} was cancelled: ${reasonOf(signal)}`, { cause: err });
  const tail = err instanceof CommandError ? lastLines(err.stderrTail, 8) : '';
  const head = err instanceof CommandError ? `${path.basename(err.argv[0] ?? '')} failed` : String((err as Error)?.message ?? err);
  return new CofferError('DATASTORE', `${what}: ${head}${tail ? ': ' + tail : ''}`, { cause: err });
}

function lastLines(text: string, n: number): string {
  return text.split('\n').filter(Boolean).slice(-n).join('\n');
}

export function isPipeError(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EPIPE' || code === 'ECONNRESET' || code === 'ERR_STREAM_DESTROYED' || code === 'ERR_STREAM_PREMATURE_CLOSE';
}

export function reasonOf(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  return r instanceof Error ? r.message : String(r ?? 'aborted');
}
