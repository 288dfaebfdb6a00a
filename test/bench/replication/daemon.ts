// A server the bench starts by hand (mariadbd, postgres), as a user would
// from a shell: argv array, run as the datastore's OS user when given, its
// output into a log file, stopped at teardown by its pid (SIGTERM, then
// SIGKILL if it lingers). Also the one-shot runner that hands a program its
// input on stdin, so statements holding a secret never reach a command line.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import type { Teardown } from '../harness.js';

export interface Daemon {
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;
  /** The stop signal, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** `stopSignal`: what asks the server to stop (postgres: SIGINT, its fast shutdown; SIGTERM waits for clients). */
export function startDaemon(td: Teardown, argv: readonly string[], opts: { log: string; uid?: number; gid?: number; env?: NodeJS.ProcessEnv; stopSignal?: NodeJS.Signals }): Daemon {
  const fd = openSync(opts.log, 'a', 0o644);
  let proc: ChildProcess;
  try {
    proc = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', fd, fd], uid: opts.uid, gid: opts.gid, env: opts.env ?? process.env });
  } finally {
    closeSync(fd);
  }
  const exited = new Promise<number | null>((resolve) => {
    proc.once('error', () => resolve(-1));
    proc.once('exit', (code) => resolve(code));
  });
  const running = () => proc.exitCode === null && proc.signalCode === null;
  const d: Daemon = {
    proc,
    exited,
    async stop(graceMs = 30_000) {
      if (!running()) return;
      proc.kill(opts.stopSignal ?? 'SIGTERM');
      const timer = setTimeout(() => running() && proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  td.teardown(() => d.stop(5_000));
  return d;
}

export interface Output {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program to its end with `input` on its stdin. */
export function runWithInput(argv: readonly string[], input: string, opts: { env?: NodeJS.ProcessEnv; uid?: number; gid?: number } = {}): Promise<Output> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env, uid: opts.uid, gid: opts.gid });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    child.once('error', (e) => resolve({ code: -1, stdout, stderr: e.message }));
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin!.on('error', () => {
      // the program exited before reading everything; its exit says why
    });
    child.stdin!.end(input);
  });
}

/** Polls `check` every `everyMs` until it returns a value, or fails after `timeoutMs` naming `what`. */
export async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
