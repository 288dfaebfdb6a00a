// A real terminal for a test: the program runs on a pseudo-terminal
// (node-pty), as under a person's terminal emulator, and the test types
// into it and reads what it shows.
import { spawn, type IPty } from 'node-pty';
import { agentEnv, withoutTapLoaders } from './agent.js';

export interface Terminal {
  readonly pid: number;
  /** Everything shown so far (escape sequences included). */
  text(): string;
  type(keys: string): void;
  resize(columns: number, rows: number): void;
  /** Resolves once the screen (after `from`, an offset in text()) matches; rejects on timeout with what it shows. */
  waitFor(pattern: RegExp, from?: number, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** The program's exit code. */
  readonly exited: Promise<number>;
  kill(signal?: NodeJS.Signals): void;
}

export function openTerminal(argv: readonly string[], env: Record<string, string>, size = { columns: 100, rows: 30 }): Terminal {
  const [file, args] = withoutTapLoaders(argv);
  const base = agentEnv();
  for (const k of ['COFFER_TOKEN', 'COFFER_TOKEN_FILE', 'COFFER_ENDPOINT', 'COFFER_PROGRESS', 'COFFER_DEBUG']) delete base[k];
  const pty: IPty = spawn(file, args, { name: 'xterm-256color', cols: size.columns, rows: size.rows, env: { ...base, TERM: 'xterm-256color', ...env } as Record<string, string> });
  let out = '';
  const waiters = new Set<() => void>();
  pty.onData((d) => {
    out += d;
    for (const w of waiters) w();
  });
  const exited = new Promise<number>((resolve) => pty.onExit(({ exitCode }) => resolve(exitCode)));
  let done = false;
  void exited.then(() => {
    done = true;
    for (const w of waiters) w();
  });
  return {
    pid: pty.pid,
    text: () => out,
    type: (keys) => pty.write(keys),
    resize: (columns, rows) => pty.resize(columns, rows),
    exited,
    kill: (signal = 'SIGKILL') => {
      try {
        process.kill(pty.pid, signal);
      } catch {
        // gone
      }
    },
    waitFor(pattern, from = 0, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const m = out.slice(from).match(pattern);
          if (m) finish(() => resolve(m));
          else if (done) finish(() => reject(new Error(`the program exited before ${pattern} appeared; the screen:\n${out}`)));
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`timed out waiting for ${pattern}; the screen:\n${out}`))), timeoutMs);
        const finish = (fn: () => void): void => {
          clearTimeout(timer);
          waiters.delete(check);
          fn();
        };
        waiters.add(check);
        check();
      });
    },
  };
}
