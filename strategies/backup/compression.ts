// Compression, as one stage type whatever the choice and whatever the input.
// zstd is the default: Node 20's zlib has no zstd, so the `zstd` program
// runs as a child (zstd-program.ts); gzip runs in-process with zlib (on
// libuv's thread pool, off the event loop); 'none' is a pass-through.
//
// The stage takes its input either way it comes: a Node stream, read
// through the agent, or a program's output nobody has read yet, which zstd
// takes directly (lib/fd-handoff.ts) so only compressed bytes enter the
// agent. On restore, zstd's output is in turn a program's output that the
// restoring tool takes the same way. Callers never branch on which.
import { PassThrough, type Duplex, type Readable, type Writable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { CofferError } from '../../lib/coded-error.js';
import { takeProgramOutput } from '../../lib/fd-handoff.js';
import { CommandError } from '../../lib/process-runner.js';
import { HashMeter, type ProgressMeter } from './hash-meter.js';
import { compressProgramOutput, decompressToProgram, zstdStream, type ZstdDeps } from './zstd-program.js';

export { zstdSummary } from './zstd-program.js';

export const COMPRESSIONS = ['zstd', 'gzip', 'none'] as const;
export type CompressionName = (typeof COMPRESSIONS)[number];
export const DEFAULT_COMPRESSION: CompressionName = 'zstd';

/** '' means the default; anything unknown is refused with the list of choices. */
export function parseCompression(name: string | undefined): CompressionName {
  if (name === undefined || name === '') return DEFAULT_COMPRESSION;
  if ((COMPRESSIONS as readonly string[]).includes(name)) return name as CompressionName;
  throw new CofferError('INVALID_ARGUMENT', `unknown compression "${name}"; use one of ${COMPRESSIONS.join(', ')}`);
}

export type CompressionDeps = ZstdDeps;

/**
 * The compression stage of a backup: the pipeline's first streams, from
 * the source to compressed bytes.
 */
export interface CompressStage {
  readonly head: [Readable, ...Duplex[]];
  /** Bytes the source produced: exact once the pipeline has finished. */
  rawBytes(): number;
  /**
   * The compressing program's own failure, if it failed: its exit status
   * and stderr are the reason a person needs, whatever another stage
   * noticed first (a premature close).
   */
  failure(): Error | undefined;
  /** Resolves once any program of the stage has exited (stopping it if the pipeline did not end). */
  reap(): Promise<void>;
}

export function compressStage(name: CompressionName, source: Readable, deps: CompressionDeps, meter?: ProgressMeter): CompressStage {
  const taken = name === 'zstd' ? takeProgramOutput(source) : undefined;
  if (taken) {
    const direct = compressProgramOutput(taken, deps);
    meter?.probeRaw(direct.rawSoFar);
    return {
      head: [direct.output],
      rawBytes: () => direct.rawTotal() ?? 0,
      // zstd's and the tool's exit are already the output's own error.
      failure: () => undefined,
      reap: async () => {
        if (!direct.output.destroyed && !direct.output.readableEnded) direct.output.destroy();
        await direct.child.exited;
      },
    };
  }
  const raw = new HashMeter({ hash: false, onBytes: meter?.addRaw });
  const codec = createCompressor(name, deps);
  return {
    head: [source, raw, codec.stream],
    rawBytes: () => raw.bytes,
    failure: () => {
      const errored = (codec.stream as { errored?: unknown }).errored;
      return errored instanceof CommandError ? errored : undefined;
    },
    reap: () => reaped(codec),
  };
}

/**
 * The decompression stage of a restore: the feeding pipeline's last
 * streams, and the raw output.
 */
export interface DecompressStage {
  readonly tail: Writable[];
  /**
   * The raw bytes, given the feeding pipeline's outcome: with zstd a
   * program's output a restoring tool can take directly. `done` settles
   * once the output is known whole (the feed and any program succeeded).
   */
  open(fed: Promise<void>): { readonly output: Readable; readonly done: Promise<void> };
  /** Bytes of output: exact once `done` resolved. */
  rawBytes(): number;
}

export function decompressStage(name: CompressionName, deps: CompressionDeps, meter?: ProgressMeter): DecompressStage {
  if (name === 'zstd') {
    const zstd = decompressToProgram(deps);
    meter?.probeRaw(zstd.rawSoFar);
    return {
      tail: [zstd.child.stdin!],
      open: (fed) => {
        const output = zstd.output(fed);
        return { output, done: output.completion };
      },
      rawBytes: () => zstd.rawTotal() ?? 0,
    };
  }
  const raw = new HashMeter({ hash: false, onBytes: meter?.addRaw });
  const codec = createDecompressor(name, deps);
  const output = new PassThrough({ highWaterMark: 1024 * 1024 });
  return { tail: [codec.stream, raw, output], open: (fed) => ({ output, done: fed }), rawBytes: () => raw.bytes };
}

/** A compressor or decompressor between two streams of this process; `exited` settles once any child has exited. */
export interface CodecStream {
  readonly stream: Duplex;
  /** Process id of the child, if this one runs one. */
  readonly pid?: number;
  readonly exited: Promise<void>;
}

export function createCompressor(name: CompressionName, deps: CompressionDeps): CodecStream {
  switch (name) {
    case 'zstd':
      return program(zstdStream('compress', deps));
    case 'gzip':
      // gzip's own default level: gzip is offered for tools that only read gzip, not for speed.
      return inProcess(createGzip({ level: 6 }));
    case 'none':
      return inProcess(new PassThrough());
  }
}

export function createDecompressor(name: CompressionName, deps: CompressionDeps): CodecStream {
  switch (name) {
    case 'zstd':
      return program(zstdStream('decompress', deps));
    case 'gzip':
      return inProcess(createGunzip());
    case 'none':
      return inProcess(new PassThrough());
  }
}

function program(z: ReturnType<typeof zstdStream>): CodecStream {
  return { stream: z.stream, pid: z.child.pid, exited: z.child.exited.then(() => undefined) };
}

function inProcess(stream: Duplex): CodecStream {
  return { stream, exited: Promise.resolve() };
}

/** Makes sure a compression child is gone before the caller hears the outcome. */
async function reaped(codec: CodecStream): Promise<void> {
  if (!codec.stream.destroyed && !codec.stream.readableEnded) codec.stream.destroy();
  await codec.exited;
}
