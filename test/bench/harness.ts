// What every benchmark shares: a teardown list (the harness's startAgent
// takes a `t` with teardown), the load average beside each figure, a sampler
// of a process's resident memory, and a runner for a pipeline of programs
// piped one into the next with argv arrays (no shell), as a user would type
// `a | b > file`.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';

export class Teardown {
  private readonly fns: Array<() => unknown> = [];
  teardown(fn: () => unknown): void {
    this.fns.push(fn);
  }
  /** Runs every registered function, newest first; keeps going past failures. */
  async run(): Promise<void> {
    while (this.fns.length) {
      const fn = this.fns.pop()!;
      try {
        await fn();
      } catch (err) {
        console.error(`bench: teardown step failed: ${(err as Error).message}`);
      }
    }
  }
}

/** One measured figure. */
export interface Row {
  readonly suite: string;
  readonly name: string;
  /** Bytes the measured thing produced or moved (0 when not applicable). */
  readonly bytes?: number;
  readonly seconds?: number;
  /** Throughput basis: bytes / seconds (MB/s, 1 MB = 10^6 bytes). */
  readonly mbps?: number;
  readonly peakRssMb?: number;
  /** Free text: a ratio, a percentile, a note. */
  readonly note?: string;
  /** /proc/loadavg's first three fields when the figure was taken. */
  readonly load: string;
  /** cpuFlags() of the machine. */
  readonly cpu: string;
  readonly at: string;
}

/** The CPU features that decide the backup pipeline's costs (sha256, AES): every row names them. */
export function cpuFlags(): string {
  const seen = new Set(readFileSync('/proc/cpuinfo', 'utf8').match(/\b(sha_ni|aes|avx2|vaes)\b/g) ?? []);
  return [...seen].sort().join(' ') || 'none of aes avx2 sha_ni vaes';
}
const CPU_FLAGS = cpuFlags();

export function loadavg(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

export function row(r: Omit<Row, 'load' | 'at' | 'cpu'>): Row {
  const out: Row = { ...r, load: loadavg(), cpu: CPU_FLAGS, at: new Date().toISOString() };
  console.log(`bench ${out.suite} | ${out.name} | ${fmt(out)} | load ${out.load} | cpu ${out.cpu}`);
  return out;
}

export function fmt(r: Row): string {
  const parts: string[] = [];
  if (r.bytes !== undefined) parts.push(`${r.bytes} B (${(r.bytes / 1e6).toFixed(1)} MB)`);
  if (r.seconds !== undefined) parts.push(`${r.seconds.toFixed(2)} s`);
  if (r.mbps !== undefined) parts.push(`${r.mbps.toFixed(1)} MB/s`);
  if (r.peakRssMb !== undefined) parts.push(`peak RSS ${r.peakRssMb.toFixed(1)} MB`);
  if (r.note) parts.push(r.note);
  return parts.join(', ');
}

export const mbps = (bytes: number, seconds: number): number => bytes / 1e6 / seconds;

export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const start = process.hrtime.bigint();
  const value = await fn();
  return { value, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}

/**
 * CPU-seconds so far, all cores together (/proc/stat; USER_HZ = 100 on
 * Linux): `busy` is user, nice, system, irq and softirq; `steal` is time the
 * hypervisor gave this VM's cores to someone else. The difference across a
 * run says how much of the cores the run and everything beside it took (a
 * pipeline keeping 2 cores busy for T seconds shows about 2T), and how much
 * of the machine was not there to be had.
 */
export function machineCpu(): { busy: number; steal: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
  return { busy: (user + nice + system + irq + softirq) / 100, steal: steal / 100 };
}

/** Measures machineCpu across `fn`: "machine CPU busy 20.1 s, stolen 0.3 s". */
export async function withMachineCpu<T>(fn: () => Promise<T>): Promise<{ value: T; cpuNote: string }> {
  const before = machineCpu();
  const value = await fn();
  const after = machineCpu();
  return { value, cpuNote: `machine CPU busy ${(after.busy - before.busy).toFixed(1)} s, stolen by the hypervisor ${(after.steal - before.steal).toFixed(1)} s` };
}

/** One round of a backup pair: the bare pipeline, then Coffer, back to back. */
export interface Pair {
  readonly bare: number;
  readonly coffer: number;
}

/** "median 0.85x (0.80x to 0.91x) over 3 rounds": Coffer's speed as a fraction of bare's. */
export function pairSummary(pairs: readonly Pair[]): { median: number; medianCofferSeconds: number; text: string } {
  const ratios = pairs.map((p) => p.bare / p.coffer).sort((a, b) => a - b);
  const median = medianOf(ratios);
  const medianCofferSeconds = medianOf(pairs.map((p) => p.coffer).sort((a, b) => a - b));
  const text = `median ${median.toFixed(2)}x (${ratios[0]!.toFixed(2)}x to ${ratios.at(-1)!.toFixed(2)}x) over ${ratios.length} round${ratios.length === 1 ? '' : 's'}`;
  return { median, medianCofferSeconds, text };
}

function medianOf(sorted: readonly number[]): number {
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function fileSize(p: string): number {
  return statSync(p).size;
}

// ---------------------------------------------------------------------------
// Memory of another process (the agent), from /proc/<pid>/status.

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

export interface RssSampler {
  /**
   * Stops sampling: VmRSS at the start, the highest VmRSS seen and the
   * kernel's VmHWM, in MB (10^6 bytes), and the CPU seconds (user + system)
   * the process used.
   */
  stop(): { startMb: number; sampledPeakMb: number; hwmMb: number; samples: number; cpuSeconds: number };
}

/** utime + stime of a process, in seconds (fields 14 and 15 of /proc/<pid>/stat). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count fields after its ')'.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
}

// sysconf(_SC_CLK_TCK): 100 on every Linux Node supports.
const CLOCK_TICKS = 100;

/**
 * Samples VmRSS every `everyMs`, after resetting the kernel's high-water
 * mark (writing 5 to clear_refs, Linux >= 4.0) so VmHWM covers only this
 * window, not the process's start-up or earlier work.
 */
export function sampleRss(pid: number, everyMs = 100): RssSampler {
  let hwmReset = true;
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    hwmReset = false;
  }
  const startKb = statusKb(pid, 'VmRSS');
  let peakKb = startKb;
  const cpu0 = cpuSeconds(pid);
  let samples = 1;
  const timer = setInterval(() => {
    try {
      peakKb = Math.max(peakKb, statusKb(pid, 'VmRSS'));
      samples++;
    } catch {
      // the process went away; the caller notices
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      let hwm = 0;
      let cpu = 0;
      try {
        peakKb = Math.max(peakKb, statusKb(pid, 'VmRSS'));
        hwm = hwmReset ? statusKb(pid, 'VmHWM') : 0;
        cpu = cpuSeconds(pid) - cpu0;
      } catch {
        // gone
      }
      return { startMb: (startKb * 1024) / 1e6, sampledPeakMb: (peakKb * 1024) / 1e6, hwmMb: (hwm * 1024) / 1e6, samples, cpuSeconds: cpu };
    },
  };
}

// ---------------------------------------------------------------------------
// Pipelines of programs.

export interface Stage {
  readonly argv: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** Run as this OS user (a datastore's tools run as its user, e.g. pg_basebackup as postgres). */
  readonly uid?: number;
  readonly gid?: number;
  /**
   * In a session of its own (setsid), as the agent's ProcessRunner starts
   * every tool (for its process group). With the kernel's autogroup
   * scheduling on, a session is a scheduling group of its own.
   */
  readonly detached?: boolean;
}

export interface PipelineResult {
  readonly seconds: number;
  /** Size of the output file, when there is one. */
  readonly bytes: number;
}

/**
 * Runs `stages[0] | stages[1] | ... > out` (out: a file path, or null for
 * /dev/null). Each program's stdout is handed to the next as its stdin, so
 * no byte passes through this process. Fails with each failed stage's exit
 * and stderr tail; on failure, the stages still running are killed by pid.
 */
export async function runPipeline(stages: readonly Stage[], out: string | null): Promise<PipelineResult> {
  if (stages.length === 0) throw new TypeError('runPipeline: no stages');
  const fd = openSync(out ?? '/dev/null', 'w', 0o600);
  const children: ChildProcess[] = [];
  const start = process.hrtime.bigint();
  try {
    let prev: ChildProcess | null = null;
    for (let i = 0; i < stages.length; i++) {
      const s = stages[i]!;
      const last = i === stages.length - 1;
      const child: ChildProcess = spawn(s.argv[0]!, s.argv.slice(1), {
        stdio: [prev ? prev.stdout! : 'ignore', last ? fd : 'pipe', 'pipe'],
        env: s.env ?? process.env,
        uid: s.uid,
        gid: s.gid,
        detached: s.detached,
      });
      // The next program has its own copy of the pipe's read end.
      if (prev) prev.stdout!.destroy();
      children.push(child);
      prev = child;
    }
    const exits = await Promise.all(
      children.map(
        (c, i) =>
          new Promise<{ i: number; code: number | null; signal: NodeJS.Signals | null; err: string }>((resolve) => {
            let err = '';
            c.stderr!.on('data', (d: Buffer) => {
              err = (err + d.toString()).slice(-2000);
            });
            c.once('error', (e) => resolve({ i, code: -1, signal: null, err: e.message }));
            c.once('close', (code, signal) => resolve({ i, code, signal, err }));
          }),
      ),
    );
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const failed = exits.filter((e) => e.code !== 0);
    if (failed.length) {
      throw new Error(
        failed.map((e) => `${stages[e.i]!.argv[0]} exited ${e.code ?? e.signal}: ${e.err.trim().split('\n').slice(-5).join(' / ')}`).join('; '),
      );
    }
    return { seconds, bytes: out ? fileSize(out) : 0 };
  } finally {
    closeSync(fd);
    for (const c of children) if (c.exitCode === null && c.signalCode === null && c.pid) process.kill(c.pid, 'SIGKILL');
  }
}

/** Runs one program to completion; rejects with its stderr tail. */
export function run(argv: readonly string[], env?: NodeJS.ProcessEnv): Promise<PipelineResult> {
  return runPipeline([{ argv, env }], null);
}
