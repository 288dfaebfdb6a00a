// Finding and signalling agent processes by what /proc says, so the local
// driver can re-adopt agents after a control restart without trusting a
// recorded pid alone (pids are reused).
import { readdirSync, readFileSync } from 'node:fs';

/** True if the pid exists and is not a zombie. */
export function alive(pid: number): boolean {
  if (!(pid > 0)) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

/** True if `pid` runs a command whose argv contains `marker` (the agent's config path). */
export function runs(pid: number, marker: string): boolean {
  return alive(pid) && cmdline(pid).includes(marker);
}

/** Every live pid whose argv contains `marker`. */
export function findByArg(marker: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid !== process.pid && runs(pid, marker)) out.push(pid);
  }
  return out;
}

export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Gone already.
  }
}

export async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}
