// Owns one datastore process: starts it as a child in its own process group,
// waits until it answers, restarts it with backoff when it dies, and stops it
// cleanly. A pid file lets the next agent run find a child that survived an
// agent killed with SIGKILL (no orphan datastore keeps the data dir busy).
import { readFileSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../lib/logger.js';
import { describeExit, type ChildHandle, type ProcessRunner, type Exit } from '../lib/process-runner.js';
import { AgentError } from './errors.js';
import { OutputFile } from './logs/output-file.js';

export interface ChildSpec {
  readonly argv: readonly string[];
  readonly uid?: number;
  readonly gid?: number;
  readonly env?: Record<string, string>;
  readonly cwd?: string;
  /** A string in the command line that identifies our child (e.g. its config path). */
  readonly marker: string;
  /**
   * How a stop starts (default SIGTERM to the whole process group).
   * PostgreSQL wants SIGINT, "fast shutdown", to the postmaster alone: its
   * SIGTERM is "smart shutdown", which waits for every client to leave, and
   * the postmaster stops its own children in order.
   */
  readonly stopSignal?: NodeJS.Signals;
  readonly stopScope?: 'group' | 'process';
  /**
   * True while a child that does not answer yet is still legitimately
   * starting (a Galera joiner receiving its full state transfer answers
   * only once the copy is in, however long that takes): the ready timeout
   * waits for it. Given the child's start time, to tell a stale sign left
   * by an earlier run from this child's.
   */
  readonly stillStarting?: (startedAtMs: number) => boolean;
  /** Where the child's output lines are appended too (its log, for agent/logs/). */
  readonly outputFile?: string;
}

export interface SupervisorOptions {
  readonly runner: ProcessRunner;
  readonly log: Logger;
  readonly pidFile: string;
  readonly spec: () => ChildSpec;
  /** Resolves true once the datastore answers. Must not throw. */
  readonly probe: () => Promise<boolean>;
  readonly readyTimeoutMs?: number;
  readonly stopGraceMs?: number;
  /** Called when the child dies unexpectedly, with why. */
  readonly onCrash: (reason: string) => void;
  /** Called when a restarted child answers again. */
  readonly onRecovered: () => void;
  /** Restart delays in ms; the last repeats. */
  readonly backoffMs?: readonly number[];
}

const DEFAULT_BACKOFF = [1000, 2000, 4000, 8000, 16000, 30000];
// A child that stayed up this long is healthy again: its next crash starts
// the backoff from the beginning.
const HEALTHY_AFTER_MS = 60_000;
const HALF_STARTED_GRACE_MS = 5_000;

export class Supervisor {
  private child: ChildHandle | null = null;
  private childSpec: ChildSpec | null = null;
  // The child that answered its probe: only its death is a crash. A child
  // that dies before answering is reported by the start that spawned it.
  private readyChild: ChildHandle | null = null;
  private wanted = false;
  private startedAtMs = 0;
  private attempt = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  restartCount = 0;

  constructor(private readonly opts: SupervisorOptions) {}

  get running(): boolean {
    return this.child?.running ?? false;
  }

  get pid(): number {
    return this.child?.running ? this.child.pid : 0;
  }

  uptimeSeconds(): number {
    return this.running ? Math.floor((Date.now() - this.startedAtMs) / 1000) : 0;
  }

  /** Starts the child and waits until it answers; on failure nothing is left running. */
  async start(signal?: AbortSignal): Promise<void> {
    this.wanted = true;
    this.cancelRestart();
    if (this.child?.running) return;
    try {
      await this.spawnAndWait(signal);
    } catch (err) {
      this.wanted = false;
      throw err;
    }
  }

  /** Stops the child (SIGTERM, SIGKILL after the grace period) and does not restart it. */
  async stop(): Promise<void> {
    this.wanted = false;
    this.cancelRestart();
    await this.killChild();
  }

  private async killChild(graceMs = this.opts.stopGraceMs ?? 60_000): Promise<void> {
    const child = this.child;
    this.child = null;
    this.readyChild = null;
    if (child?.running) {
      this.opts.log.info({ pid: child.pid }, 'stopping datastore');
      await child.stop(graceMs, this.childSpec?.stopSignal ?? 'SIGTERM', this.childSpec?.stopScope ?? 'group');
    }
    rmSync(this.opts.pidFile, { force: true });
  }

  private async spawnAndWait(signal?: AbortSignal): Promise<void> {
    const spec = this.opts.spec();
    const program = spec.argv[0] ?? 'datastore';
    const output = spec.outputFile ? new OutputFile(spec.outputFile) : null;
    const child = this.opts.runner.spawn(spec.argv, { uid: spec.uid, gid: spec.gid, env: spec.env, cwd: spec.cwd, onLine: output ? (line) => output.write(line) : undefined });
    if (output) void child.exited.then(() => output.close());
    this.child = child;
    this.childSpec = spec;
    this.startedAtMs = Date.now();
    if (child.pid > 0) {
      writeFileSync(this.opts.pidFile, JSON.stringify({ pid: child.pid, marker: spec.marker }), { mode: 0o600 });
    }
    this.opts.log.info({ pid: child.pid, program }, 'datastore started');
    let exitedEarly: Exit | null = null;
    void child.exited.then((exit) => {
      exitedEarly = exit;
      if (this.child === child && this.readyChild === child) this.onExit(child, exit, program);
    });

    const deadline = Date.now() + (this.opts.readyTimeoutMs ?? 120_000);
    for (;;) {
      if (exitedEarly) {
        await this.killChild();
        throw new AgentError(
          'AGENT_ERR_DATASTORE',
          `${program} ${describeExit(exitedEarly)} before it answered: ${child.outputTail() || '(no output)'}`,
        );
      }
      if (signal?.aborted) {
        // A server still starting up may not act on SIGTERM until it is
        // ready; it holds nothing worth a long wait yet.
        await this.killChild(HALF_STARTED_GRACE_MS);
        throw new AgentError('AGENT_ERR_CANCELLED', `start of ${program} was cancelled`);
      }
      if (await this.opts.probe()) {
        this.readyChild = child;
        return;
      }
      if (Date.now() > deadline && !spec.stillStarting?.(this.startedAtMs)) {
        const tailText = child.outputTail();
        await this.killChild(HALF_STARTED_GRACE_MS);
        throw new AgentError('AGENT_ERR_TIMEOUT', `${program} did not answer within ${this.opts.readyTimeoutMs ?? 120_000} ms: ${tailText}`);
      }
      await sleep(200);
    }
  }

  private onExit(child: ChildHandle, exit: Exit, program: string): void {
    rmSync(this.opts.pidFile, { force: true });
    if (!this.wanted) return;
    const reason = `${program} ${describeExit(exit)}: ${child.outputTail().split('\n').slice(-3).join(' | ')}`;
    this.opts.log.warn({ exit, program }, 'datastore died unexpectedly');
    this.opts.onCrash(reason);
    if (Date.now() - this.startedAtMs > HEALTHY_AFTER_MS) this.attempt = 0;
    const delays = this.opts.backoffMs ?? DEFAULT_BACKOFF;
    const delay = delays[Math.min(this.attempt, delays.length - 1)]!;
    this.attempt += 1;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (!this.wanted) return;
      this.restartCount += 1;
      this.spawnAndWait().then(
        () => this.opts.onRecovered(),
        (err: Error) => {
          // The restarted child never answered: try again, later.
          this.opts.log.warn({ err: err.message }, 'datastore restart failed');
          if (this.wanted && this.restartTimer === null) this.onExit(this.child ?? child, { code: null, signal: null }, program);
        },
      );
    }, delay);
    this.restartTimer.unref();
  }

  private cancelRestart(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
  }

  /**
   * Stops a datastore left running by an earlier agent process (one killed
   * with SIGKILL cannot stop its child). Only a process whose command line
   * carries our marker is touched: pids are reused.
   */
  static async reapOrphan(pidFile: string, log: Logger, graceMs = 30_000): Promise<boolean> {
    if (!existsSync(pidFile)) return false;
    let rec: { pid: number; marker: string };
    try {
      rec = JSON.parse(readFileSync(pidFile, 'utf8'));
    } catch {
      rmSync(pidFile, { force: true });
      return false;
    }
    const alive = (): boolean => {
      try {
        const cmd = readFileSync(`/proc/${rec.pid}/cmdline`, 'utf8');
        return cmd.includes(rec.marker);
      } catch {
        return false;
      }
    };
    if (!Number.isInteger(rec.pid) || rec.pid <= 1 || !alive()) {
      rmSync(pidFile, { force: true });
      return false;
    }
    log.warn({ pid: rec.pid }, 'stopping a datastore left running by an earlier agent');
    const signalGroup = (s: NodeJS.Signals) => {
      try {
        process.kill(-rec.pid, s);
      } catch {
        try {
          process.kill(rec.pid, s);
        } catch {
          // gone
        }
      }
    };
    signalGroup('SIGTERM');
    const deadline = Date.now() + graceMs;
    while (alive() && Date.now() < deadline) await sleep(100);
    if (alive()) signalGroup('SIGKILL');
    while (alive()) await sleep(50);
    rmSync(pidFile, { force: true });
    return true;
  }
}
