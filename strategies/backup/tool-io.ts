// A datastore's tool as a backup source, and a tool fed a restore: the
// helpers every strategy shares (mariabackup.ts, mysqldump.ts, and the
// PostgreSQL ones). A tool's success needs both its exit status and the
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
import { ProgramOutput } from '../../lib/program-output.js';
import { CommandError, type ChildHandle, type Exit, type ProcessRunner, type SpawnOptions } from '../../lib/process-runner.js';
import type { BackupMetadata } from '../../proto/gen/coffer/agent/v1/backup.js';

/** SIGTERM first; SIGKILL to the group if still alive after this long. */
export const DEFAULT_KILL_AFTER_MS = 3000;

export interface ToolSourceOptions {
  readonly child: ChildHandle;
  readonly signal: AbortSignal;
  readonly killAfterMs: number;
  /**
   * Sees every chunk of stdout as it passes (must not keep it). Setting it
   * means the bytes pass through the agent: the output cannot be handed on.
   */
  readonly onChunk?: (chunk: Buffer) => void;
  /** After a clean exit: what the strategy records in the metadata. */
  readonly finish: () => Promise<Partial<BackupMetadata>>;
  /** Bytes appended after the tool's own output, once it exited cleanly (also means no hand-off). */
  readonly trailer?: Buffer;
  /** Runs once the tool has exited, whatever happened (temporary files). */
  readonly cleanup: () => Promise<void>;
}

/**
 * The tool's stdout as a BackupSource. The stream ends only after the tool
 * exited 0 (and `finish` succeeded), so even a consumer that forgets `done`
 * cannot commit a truncated backup; any other exit fails both the stream and
 * `done` with the tool's stderr tail. An abort of the signal, or a reader
 * that abandons the stream, stops the tool's whole process group. Without
 * onChunk or trailer the stream is a ProgramOutput, which the pipeline hands
 * straight to the compressor.
 */
export function toolSource(o: ToolSourceOptions): BackupSource {
  const { child, signal, killAfterMs } = o;
  const program = path.basename(child.argv[0] ?? 'tool');
  if (!child.stdout) throw new TypeError(`${program}: stdout must be a pipe`);
  let stoppedBecause: string | null = null;
  const stop = (why: string): void => {
    if (!child.running) return;
    stoppedBecause ??= why;
    void child.stop(killAfterMs);
  };
  const onAbort = (): void => stop(reasonOf(signal));

  const exitOk = child.exited.then((exit) => {
    signal.removeEventListener('abort', onAbort);
    if (stoppedBecause !== null) throw new CofferError('CANCELLED', `${program} was stopped: ${stoppedBecause}`);
    if (exit.code !== 0) throw toolFailure(child, exit);
  });
  const done = exitOk.then(o.finish).finally(o.cleanup);
  // The caller may fail before it awaits `done`: never an unhandled rejection.
  done.catch(() => undefined);

  const output = new ProgramOutput(child, {
    completion: done,
    onAbandon: () => stop('the backup stream was closed before the tool finished'),
  });
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  if (!o.onChunk && !o.trailer?.length) return { stream: output, done };

  const gate = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      o.onChunk?.(chunk);
      cb(null, chunk);
    },
    flush(cb) {
      // The output ended, so `done` has resolved: the trailer follows a whole dump.
      if (o.trailer?.length) this.push(o.trailer);
      cb();
    },
  });
  pipelineCb(output, gate, () => undefined);
  return { stream: gate, done };
}

/** Spawns a tool with `input` on its stdin: handed on from the program that produces it where it can be, else written from here. */
export function spawnFed(runner: ProcessRunner, argv: readonly string[], input: Readable, opts: Omit<SpawnOptions, 'stdin'> = {}): { child: ChildHandle; direct: boolean } {
  if (input instanceof ProgramOutput && input.canHandOff) {
    return { child: runner.spawn(argv, { ...opts, stdin: input.handOff() }), direct: true };
  }
  return { child: runner.spawn(argv, { ...opts, stdin: 'pipe' }), direct: false };
}

export interface FeedToolOptions extends Omit<SpawnOptions, 'stdin' | 'stdout'> {
  readonly killAfterMs?: number;
  /** Names the step in errors ("extracting backup X"). */
  readonly what?: string;
}

/**
 * Runs a tool (mbstream -x, tar -x, the mariadb client) with `input` on its
 * stdin, and resolves once it exited 0 having read all of it, from an input
 * that was itself whole.
 */
export async function feedTool(runner: ProcessRunner, argv: readonly string[], input: Readable, signal: AbortSignal, opts: FeedToolOptions = {}): Promise<void> {
  const program = path.basename(argv[0] ?? 'tool');
  const what = opts.what ?? program;
  const killAfterMs = opts.killAfterMs ?? DEFAULT_KILL_AFTER_MS;
  if (signal.aborted) throw new CofferError('CANCELLED', `${what} was cancelled: ${reasonOf(signal)}`);
  const { killAfterMs: _k, what: _w, ...spawnOpts } = opts;
  const { child, direct } = spawnFed(runner, argv, input, { ...spawnOpts, stdout: 'ignore' });
  const onAbort = (): void => {
    input.destroy();
    void child.stop(killAfterMs);
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    let inputError: Error | null = null;
    const fed = direct ? (input as ProgramOutput).completion : pipeline(input, child.stdin!);
    await fed.catch((err: unknown) => {
      // The input failed: the tool must not finish on a prefix as if it
      // were the whole.
      inputError = err instanceof Error ? err : new Error(String(err));
      input.destroy();
      // A broken pipe: the tool closed its input and is on its way out with
      // its own reason, which a SIGTERM from here would overwrite.
      // (Only EPIPE: a premature close of the input instead must not let the
      // tool go on to finish on a prefix.)
      if ((inputError as NodeJS.ErrnoException).code === 'EPIPE') void child.exitOrStop(killAfterMs, killAfterMs);
      else void child.stop(killAfterMs);
    });
    const exit = await child.exited;
    if (signal.aborted) throw new CofferError('CANCELLED', `${what} was cancelled: ${reasonOf(signal)}`);
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
    if (child.running) void child.stop(killAfterMs);
  }
}

/** A failed tool as the agent reports it: DATASTORE, with the last lines of its stderr. */
export function toolFailure(child: ChildHandle, exit: Exit, what?: string): CofferError {
  const program = path.basename(child.argv[0] ?? 'tool');
  const why = exit.signal !== null ? `was killed by ${exit.signal}` : exit.code === null ? 'could not start' : `exited with code ${exit.code}`;
  const tail = lastLines(child.outputTail(), 8);
  const cause = new CommandError(`${program} ${why}`, child.argv, exit.code ?? undefined, exit.signal ?? undefined, tail);
  return new CofferError('DATASTORE', `${what ? what + ': ' : ''}${program} ${why}${tail ? ': ' + tail : ''}`, { cause });
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
