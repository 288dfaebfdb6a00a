// Handing a child an open descriptor as its stdin, so the bytes never pass
// through this process: an open file (the child reads it from the
// descriptor's current offset), or another child's stdout (the two children
// share an OS pipe). Backups move gigabytes from a datastore's tool into
// zstd (and, on restore, from zstd into the tool); read through the agent,
// every byte would cost CPU and garbage on the two cores the tools need.
import type { Readable } from 'node:stream';
import { ProgramOutput } from './program-output.js';

/** An open file descriptor, such as a fs/promises FileHandle. */
export interface OpenFile {
  readonly fd: number;
}

/** A child whose stdout, not yet read from, can become another child's stdin (a ChildHandle). */
export interface StdoutDonor {
  readonly stdoutReleasable: boolean;
  /** Gives up this process's reading end of the donor's stdout. */
  releaseStdout(): Readable;
}

export type StdinSource = 'pipe' | 'ignore' | StdoutDonor | OpenFile;

export function isOpenFile(x: unknown): x is OpenFile {
  return typeof x === 'object' && x !== null && !isStdoutDonor(x) && Number.isInteger((x as OpenFile).fd) && (x as OpenFile).fd >= 0;
}

function isStdoutDonor(x: unknown): x is StdoutDonor {
  return typeof x === 'object' && x !== null && typeof (x as StdoutDonor).releaseStdout === 'function';
}

/**
 * What to give the spawn for `stdin`, and what to do right after the spawn.
 * A donor's pipe is given to the new child, and this process closes its own
 * copy right after, so the writer's exit is the reader's EOF. (execa's types
 * name only descriptors 3 to 9; it passes any to spawn.)
 */
export function stdinForSpawn(stdin: StdinSource | undefined): { stdio: 'pipe' | 'ignore' | Readable | 3; afterSpawn: () => void } {
  if (isStdoutDonor(stdin)) {
    const upstream = stdin.releaseStdout();
    return { stdio: upstream, afterSpawn: () => upstream.destroy() };
  }
  if (isOpenFile(stdin)) return { stdio: stdin.fd as 3, afterSpawn: () => undefined };
  return { stdio: stdin ?? 'ignore', afterSpawn: () => undefined };
}

/** A program's output taken over: give `donor` as the next child's stdin; `from.completion` tells whether what it read was whole. */
export interface HandedOver {
  readonly donor: StdoutDonor;
  readonly from: ProgramOutput;
}

/**
 * The one decision every consumer of a byte stream makes (zstd compressing
 * a tool's output, a restoring tool reading zstd's): take the producing
 * program's stdout directly when the stream is a program's output nobody
 * has read yet, else be fed by this process.
 */
export function takeProgramOutput(input: Readable): HandedOver | undefined {
  if (input instanceof ProgramOutput && input.canHandOff) return { donor: input.handOff(), from: input };
  return undefined;
}
