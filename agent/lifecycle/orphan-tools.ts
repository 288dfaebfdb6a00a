// The tools a restore runs (mbstream, mariadb-backup --move-back, chown,
// ...) are spawned in their own process groups, so an agent killed with
// SIGKILL leaves them running. One that still moves files into the data
// directory by name would write into whatever the next agent puts there:
// boot stops them before it touches the data directory. They are found by
// the paths on their command lines, which only this instance's operations
// use.
import { readdirSync, readFileSync } from 'node:fs';
import type { Logger } from '../../lib/logger.js';

/** True if `arg` (or the value of `--option=value`) is `root` or a path below it. */
function names(arg: string, root: string): boolean {
  const value = arg.startsWith('-') && arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : arg;
  return value === root || value.startsWith(`${root}/`);
}

function commandLine(pid: string): string[] | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return null;
  }
}

/** A process that has exited but not yet been reaped holds no files open: it counts as gone. */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Pids of the processes (other than this one) whose command line names a path under one of `roots`. */
export function processesUsing(roots: readonly string[]): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const argv = commandLine(name);
    if (argv?.some((a) => roots.some((r) => names(a, r)))) found.push(Number(name));
  }
  return found;
}

/** SIGKILLs them and waits until they are gone; throws if one is still there after `timeoutMs`. */
export async function stopOrphanTools(roots: readonly string[], log: Logger, timeoutMs = 10_000): Promise<void> {
  const pids = processesUsing(roots);
  if (!pids.length) return;
  log.warn({ pids }, 'stopping tools an earlier agent left running');
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = pids.filter(running);
    if (!left.length) return;
    if (Date.now() > deadline) throw new Error(`processes ${left.join(', ')} left by an earlier agent did not stop`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
