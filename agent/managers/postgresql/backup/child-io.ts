// Bytes into and out of the datastore's tools, through the one module that
// spawns processes. A tool's success needs both its exit status and the
// stream's: a tool that exits 0 after its input failed half-way has restored
// a prefix, which is a failure.
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ChildHandle, Exit, ProcessRunner } from '../../../../lib/process-runner.js';
import type { ProgramOutput } from '../../../../lib/program-output.js';
import { spawnFed } from '../../../../strategies/backup/tool-io.js';
import { CofferError } from '../../../../lib/coded-error.js';
import { AgentError } from '../../../errors.js';

export interface ToolOptions {
  readonly uid?: number;
  readonly gid?: number;
  readonly cwd?: string;
  readonly env?: Record<string, string>;
}

export function describeExit(exit: Exit): string {
  if (exit.signal) return `was killed by ${exit.signal}`;
  if (exit.code !== null) return `exited with code ${exit.code}`;
  return 'could not be started';
}

export function toolFailure(tool: string, exit: Exit, child: ChildHandle): AgentError {
  const tail = child.outputTail();
  return new AgentError('AGENT_ERR_DATASTORE', `${tool} ${describeExit(exit)}${tail ? `: ${tail}` : ''}`);
}

/** Runs a tool with `input` on its stdin; resolves once it exited 0 having read all of it. */
export async function feedTool(
  runner: ProcessRunner,
  argv: readonly string[],
  input: Readable,
  signal: AbortSignal,
  opts: ToolOptions = {},
): Promise<void> {
  const tool = argv[0]!.split('/').pop()!;
  if (signal.aborted) throw new AgentError('AGENT_ERR_CANCELLED', `${tool} was cancelled before it started`);
  // From zstd -d straight into the tool where the input is a program's output.
  const { child, direct } = spawnFed(runner, argv, input, { ...opts, stdout: 'pipe' });
  const onAbort = (): void => child.signalGroup('SIGKILL');
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    let inputError: unknown = null;
    await Promise.all([
      (direct ? (input as ProgramOutput).completion : pipeline(input, child.stdin!)).catch((err: unknown) => {
        // The input failed: the tool must not finish on a prefix as if it
        // were the whole. If the tool died first (EPIPE), its exit says why.
        inputError = err;
        child.signalGroup('SIGKILL');
      }),
      child.exited,
    ]);
    const exit = await child.exited;
    if (signal.aborted) throw new AgentError('AGENT_ERR_CANCELLED', `${tool} was cancelled`);
    // EPIPE: the tool stopped reading (it failed, and its exit says why).
    const toolStoppedReading = (inputError as { code?: string } | null)?.code === 'EPIPE';
    if (inputError && !toolStoppedReading) {
      if (inputError instanceof CofferError) throw inputError;
      throw new AgentError('AGENT_ERR_DATASTORE', `the input of ${tool} failed: ${(inputError as Error)?.message ?? inputError}`, { cause: inputError });
    }
    if (exit.code !== 0) throw toolFailure(tool, exit, child);
    if (inputError) throw new AgentError('AGENT_ERR_DATASTORE', `${tool} exited before reading all of its input`);
  } finally {
    signal.removeEventListener('abort', onAbort);
    if (child.running) child.signalGroup('SIGKILL');
  }
}
