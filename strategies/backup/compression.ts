// Compression stages of the backup pipeline. zstd is the default: Node 20's
// zlib has no zstd, so the `zstd` program runs as a child (through
// ProcessRunner, the one module that starts processes) with its stdin and
// stdout inside the pipeline, and its exit status part of the stream's
// success. gzip runs in-process with zlib (on libuv's thread pool, off the
// event loop); 'none' is a pass-through.
import { Duplex, PassThrough } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { AgentError } from '../../agent/errors.js';
import type { Logger } from '../../lib/logger.js';
import { CommandError, type ChildHandle, type Exit, type ProcessRunner } from '../../lib/process-runner.js';

export const COMPRESSIONS = ['zstd', 'gzip', 'none'] as const;
export type CompressionName = (typeof COMPRESSIONS)[number];
export const DEFAULT_COMPRESSION: CompressionName = 'zstd';

/** '' means the default; anything unknown is refused with the list of choices. */
export function parseCompression(name: string | undefined): CompressionName {
  if (name === undefined || name === '') return DEFAULT_COMPRESSION;
  if ((COMPRESSIONS as readonly string[]).includes(name)) return name as CompressionName;
  throw new AgentError('AGENT_ERR_INVALID_ARGUMENT', `unknown compression "${name}"; use one of ${COMPRESSIONS.join(', ')}`);
}

export interface CompressionDeps {
  readonly runner: ProcessRunner;
  readonly log: Logger;
  /** The zstd program; found on PATH by default. */
  readonly zstdPath?: string;
  /** zstd worker threads (-T). Two keeps one core free for encryption and hashing. */
  readonly zstdThreads?: number;
  /** After a cancel, SIGKILL the compressor's group if SIGTERM has not ended it by then. */
  readonly killAfterMs?: number;
}

/** A stage: its stream, and a promise that settles once any child process has exited. */
export interface CompressionStage {
  readonly stream: Duplex;
  /** Process id of the child, if this stage runs one. */
  readonly pid?: number;
  readonly exited: Promise<void>;
}

// Both sides of the pipe to the child: enough to keep zstd busy without
// holding more than a pipe's worth of data in this process.
const PIPE_HIGH_WATER_MARK = 64 * 1024;

export function createCompressor(name: CompressionName, deps: CompressionDeps): CompressionStage {
  switch (name) {
    case 'zstd':
      // -1: fastest level, backups are I/O bound; -c: to stdout; -q: no progress on stderr.
      return runProgram([deps.zstdPath ?? 'zstd', '-1', `-T${deps.zstdThreads ?? 2}`, '-c', '-q'], deps);
    case 'gzip':
      // gzip's own default level: gzip is offered for tools that only read gzip, not for speed.
      return inProcess(createGzip({ level: 6 }));
    case 'none':
      return inProcess(new PassThrough());
  }
}

export function createDecompressor(name: CompressionName, deps: CompressionDeps): CompressionStage {
  switch (name) {
    case 'zstd':
      return runProgram([deps.zstdPath ?? 'zstd', '-d', '-c', '-q'], deps);
    case 'gzip':
      return inProcess(createGunzip());
    case 'none':
      return inProcess(new PassThrough());
  }
}

function inProcess(stream: Duplex): CompressionStage {
  return { stream, exited: Promise.resolve() };
}

function runProgram(argv: readonly string[], deps: CompressionDeps): CompressionStage {
  // Binary stdout: logOutput must be off, or the runner would read stdout as log lines.
  const child = deps.runner.spawn(argv, { stdin: 'pipe', stdout: 'pipe', logOutput: false });
  deps.log.debug({ cmd: argv, pid: child.pid }, 'compression program started');
  const stream = new ProgramStream(child, deps.killAfterMs ?? 2000);
  return { stream, pid: child.pid, exited: child.exited.then(() => undefined) };
}

/** Errors that only mean "the other end of the pipe went away". */
function isPipeError(err: Error | null): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return !err || code === 'EPIPE' || code === 'ECONNRESET' || code === 'ERR_STREAM_DESTROYED' || code === 'ERR_STREAM_PREMATURE_CLOSE';
}

/**
 * A child's stdin and stdout as one Duplex. Backpressure is passed through in
 * both directions (write waits for 'drain'; a full readable pauses stdout).
 * The readable side ends only when stdout has ended AND the program exited 0;
 * any other exit fails the stream with the program's stderr. Destroying the
 * stream kills the program's process group.
 */
class ProgramStream extends Duplex {
  constructor(
    private readonly child: ChildHandle,
    private readonly killAfterMs: number,
  ) {
    super({ readableHighWaterMark: PIPE_HIGH_WATER_MARK, writableHighWaterMark: PIPE_HIGH_WATER_MARK });
    const { stdin, stdout } = child;
    if (!stdin || !stdout) throw new TypeError(`${child.argv[0]}: stdin and stdout must be pipes`);
    stdout.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) stdout.pause();
    });
    stdout.once('end', () => void this.endWhenExited());
    stdout.on('error', (err) => this.destroy(err));
    stdin.on('error', (err) => this.destroy(err));
  }

  override _read(): void {
    this.child.stdout?.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const stdin = this.child.stdin as NonNullable<ChildHandle['stdin']>;
    if (stdin.write(chunk)) cb();
    else stdin.once('drain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    // Closing stdin tells the program the input is complete; success is
    // decided on the readable side, by its exit status.
    this.child.stdin?.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const { child } = this;
    const settle = child.running ? child.stop(this.killAfterMs) : child.exited;
    child.stdin?.destroy();
    child.stdout?.destroy();
    settle.then(
      (exit) => {
        // A program that exited non-zero on its own is the real reason,
        // whatever another stage noticed first (a broken pipe, a premature
        // close): its exit status and stderr are what a person needs.
        if ((isPipeError(err) || !(err instanceof AgentError)) && exit.code !== 0 && exit.code !== null) cb(this.exitError(exit));
        else cb(err);
      },
      () => cb(err),
    );
  }

  private async endWhenExited(): Promise<void> {
    const exit = await this.child.exited;
    if (this.destroyed) return;
    if (exit.code === 0) this.push(null);
    else this.destroy(this.exitError(exit));
  }

  private exitError(exit: Exit): CommandError {
    const program = this.child.argv[0] ?? '';
    const why =
      exit.signal !== null
        ? `was killed by ${exit.signal}`
        : exit.code === null
          ? 'could not start'
          : `exited with code ${exit.code}`;
    const stderr = this.child.outputTail();
    return new CommandError(`${program} ${why}${stderr ? ': ' + stderr : ''}`, this.child.argv, exit.code ?? undefined, exit.signal ?? undefined, stderr);
  }
}
