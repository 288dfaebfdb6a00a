// zstd as a child process (Node 20's zlib has no zstd), started through
// ProcessRunner. Two shapes: fed from and read by the agent (ProgramStream,
// for a source that is a Node stream), or taking a program's stdout directly
// and giving its own to the next program (lib/fd-handoff.ts), so the raw
// bytes never enter the agent. Either way its exit status is part of the
// stream's success.
import { Duplex } from 'node:stream';
import { CofferError } from '../../lib/coded-error.js';
import type { Logger } from '../../lib/logger.js';
import type { CommandError, ChildHandle, Exit, ProcessRunner } from '../../lib/process-runner.js';
import type { HandedOver } from '../../lib/fd-handoff.js';
import { ProgramOutput } from '../../lib/program-output.js';

export interface ZstdDeps {
  readonly runner: ProcessRunner;
  readonly log: Logger;
  /** The zstd program; found on PATH by default. */
  readonly zstdPath?: string;
  /** zstd worker threads (-T). Two keeps one core free for encryption and hashing. */
  readonly zstdThreads?: number;
  /** After a cancel, SIGKILL the compressor's group if SIGTERM has not ended it by then. */
  readonly killAfterMs?: number;
}

// Both sides of the pipe to the child: enough to keep zstd busy without
// holding more than a pipe's worth of data in this process.
const PIPE_HIGH_WATER_MARK = 64 * 1024;

/** zstd between two streams of this process: -1, fastest, as backups are I/O bound; -c to stdout; -q no progress. */
export function zstdStream(mode: 'compress' | 'decompress', deps: ZstdDeps): { stream: Duplex; child: ChildHandle } {
  const argv = mode === 'compress' ? [deps.zstdPath ?? 'zstd', '-1', `-T${deps.zstdThreads ?? 2}`, '-c', '-q'] : [deps.zstdPath ?? 'zstd', '-d', '-c', '-q'];
  // Binary stdout: logOutput must be off, or the runner would read stdout as log lines.
  const child = deps.runner.spawn(argv, { stdin: 'pipe', stdout: 'pipe', logOutput: false, killAfterMs: deps.killAfterMs ?? 2000 });
  deps.log.debug({ cmd: argv, pid: child.pid }, 'compression program started');
  return { stream: new ProgramStream(child), child };
}

/**
 * zstd reading a program's stdout directly (lib/fd-handoff.ts): the raw
 * bytes go from the tool to zstd through an OS pipe and never enter the
 * agent, which reads only the compressed side. The output ends only once
 * zstd exited 0 AND the source's own completion resolved (the tool exited
 * 0): zstd ends cleanly on any EOF, including a tool that died midway.
 */
export interface DirectCompression {
  readonly output: ProgramOutput;
  readonly child: ChildHandle;
  /** Raw bytes zstd has read so far, while it runs (for progress). */
  rawSoFar(): number | undefined;
  /** Once zstd has exited: the raw byte count it reported. */
  rawTotal(): number | undefined;
}

export function compressProgramOutput(input: HandedOver, deps: ZstdDeps): DirectCompression {
  // -vv: the closing summary gives exact byte counts ("N B => M B"); --no-progress keeps stderr to that.
  const argv = [deps.zstdPath ?? 'zstd', '-1', `-T${deps.zstdThreads ?? 2}`, '-c', '-vv', '--no-progress'];
  const child = deps.runner.spawn(argv, { stdin: input.donor, stdout: 'pipe', logOutput: false, killAfterMs: deps.killAfterMs ?? 2000 });
  deps.log.debug({ cmd: argv, pid: child.pid, from: input.from.child.pid }, 'compression program started on the source program\'s output');
  const zstdOk = child.exited.then((exit) => {
    if (exit.code !== 0) throw zstdFailure(child, exit);
  });
  const completion = bothOk(zstdOk, input.from.completion, isInputClosed);
  const output = new ProgramOutput(child, {
    completion,
    highWaterMark: PIPE_HIGH_WATER_MARK,
    onAbandon: () => void child.stop(),
  });
  let lastRead: number | undefined;
  return {
    output,
    child,
    rawSoFar: () => (lastRead = child.ioCounters()?.readBytes ?? lastRead),
    rawTotal: () => zstdSummary(child.outputTail())?.in ?? lastRead,
  };
}

/**
 * zstd -d fed from the agent (the decrypted stream), its stdout a
 * ProgramOutput the restoring tool can take directly. `upstream` is the
 * feeding pipeline: the output is whole only if it, and zstd, succeeded.
 */
export interface DirectDecompression {
  readonly child: ChildHandle;
  /** Bind the feeding pipeline's promise; returns the output to hand on. */
  output(upstream: Promise<unknown>): ProgramOutput;
  /** Raw bytes zstd has written so far, while it runs (for progress). */
  rawSoFar(): number | undefined;
  /** Once zstd has exited: the raw byte count it reported. */
  rawTotal(): number | undefined;
}

export function decompressToProgram(deps: ZstdDeps): DirectDecompression {
  const argv = [deps.zstdPath ?? 'zstd', '-d', '-c', '-vv', '--no-progress'];
  const child = deps.runner.spawn(argv, { stdin: 'pipe', stdout: 'pipe', logOutput: false, killAfterMs: deps.killAfterMs ?? 2000 });
  deps.log.debug({ cmd: argv, pid: child.pid }, 'decompression program started');
  let lastWritten: number | undefined;
  return {
    child,
    output: (upstream) => {
      const zstdOk = child.exited.then((exit) => {
        if (exit.code !== 0) throw zstdFailure(child, exit);
      });
      // The feeding side first: a frame that failed to decrypt is the reason,
      // not zstd's complaint about the input that then stopped short. But a
      // broken pipe on the feeding side only says zstd went first.
      const completion = bothOk(upstream, zstdOk, isInputClosed);
      completion.catch(() => void child.stop());
      return new ProgramOutput(child, { completion, highWaterMark: PIPE_HIGH_WATER_MARK, onAbandon: () => void child.stop() });
    },
    rawSoFar: () => (lastWritten = child.ioCounters()?.writtenBytes ?? lastWritten),
    rawTotal: () => zstdSummary(child.outputTail())?.out ?? lastWritten,
  };
}

/**
 * Waits for both; if either failed, rejects with the first one's reason in
 * argument order, unless `yields` says the first's reason defers to the second's.
 */
async function bothOk(first: Promise<unknown>, second: Promise<unknown>, yields: (err: Error | null) => boolean): Promise<void> {
  const [a, b] = await Promise.allSettled([first, second]);
  if (a.status === 'rejected' && !(b.status === 'rejected' && yields(a.reason as Error))) throw a.reason;
  if (b.status === 'rejected') throw b.reason;
}

/**
 * The byte counts in zstd -vv's closing line: "(N B => M B, ...)" when
 * compressing (numbers padded to six places), ": N bytes" when
 * decompressing.
 */
export function zstdSummary(stderr: string): { in: number; out: number } | undefined {
  const c = /\(\s*(\d+) B =>\s*(\d+) B,/.exec(stderr);
  if (c) return { in: Number(c[1]), out: Number(c[2]) };
  const d = /^\S.*:\s*(\d+) bytes\s*$/m.exec(stderr);
  if (d) return { in: Number.NaN, out: Number(d[1]) };
  return undefined;
}

// What zstd -vv says when all is well; kept out of error messages.
const ZSTD_CHATTER = [/^\*\*\* Zstandard CLI/, /^--zstd=/, /^--format=/, /^Using std(in|out) for/, /^Decompression will require/, /^Sparse File Support/, /: Completed in /, /\(\s*\d+ B =>\s*\d+ B,/, /:\s*\d+ bytes\s*$/];

function zstdFailure(child: ChildHandle, exit: Exit): CommandError {
  const err = child.failure(exit, { keep: (line) => !ZSTD_CHATTER.some((re) => re.test(line)) });
  // Killed by SIGPIPE: whatever read its output went away first, and that
  // reader's own failure is the reason (tool-io.ts treats EPIPE so).
  if (exit.signal === 'SIGPIPE') Object.assign(err, { code: 'EPIPE' });
  return err;
}

/** A broken pipe: the program at the other end went away first (or, for a program killed by SIGPIPE, its reader did). */
function isInputClosed(err: Error | null): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'EPIPE' || code === 'ECONNRESET';
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
export class ProgramStream extends Duplex {
  constructor(private readonly child: ChildHandle) {
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
    // EPIPE on stdin: the program closed its input, so it is exiting on its
    // own; killing it now would replace its exit status and stderr with our
    // SIGTERM.
    const settle = isInputClosed(err) ? child.exitOrStop() : child.stop();
    child.stdin?.destroy();
    child.stdout?.destroy();
    settle.then(
      (exit) => {
        // A program that exited non-zero on its own is the real reason,
        // whatever another stage noticed first (a broken pipe, a premature
        // close): its exit status and stderr are what a person needs.
        if ((isPipeError(err) || !(err instanceof CofferError)) && exit.code !== 0 && exit.code !== null) cb(this.exitError(exit));
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
    return zstdFailure(this.child, exit);
  }
}
