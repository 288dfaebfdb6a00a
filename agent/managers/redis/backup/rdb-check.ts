// Verifies an RDB file before it is put where redis-server would load it.
// The RDB ends in a CRC64 of its content (rdbchecksum yes), so a truncated or
// altered file fails here, not half-way through a server start. (The backup
// pipeline's authenticated encryption catches tampering in storage; this
// catches a bad snapshot, whatever produced it.)
import { AgentError } from '../../../errors.js';
import { CommandError, type ProcessRunner } from '../../../../lib/process-runner.js';
import { requireProgram } from '../../../../lib/which.js';

export async function checkRdb(runner: ProcessRunner, file: string, signal: AbortSignal): Promise<void> {
  const tool = requireProgram('redis-check-rdb', 'redis-check-rdb');
  try {
    await runner.run([tool, file], { signal, timeoutMs: 3_600_000 });
  } catch (err) {
    if (err instanceof CommandError && err.exitCode !== undefined && !signal.aborted) {
      const why = err.stderrTail.split('\n').filter((l) => /error|unexpected|wrong|invalid|crc/i.test(l)).slice(0, 3).join(' | ');
      throw new AgentError('AGENT_ERR_INTEGRITY', `the RDB to restore is damaged (redis-check-rdb: ${why || `exit ${err.exitCode}`})`, { cause: err });
    }
    throw err;
  }
}
