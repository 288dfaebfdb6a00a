// How a Coffer process stops on SIGTERM or SIGINT, the same for the agent and
// the control: its steps run in order (each waits for the one before, and a
// failing step is logged and does not keep the later ones from running),
// within a deadline; a second signal, or the deadline passing, ends the
// process at once. An operator who presses Ctrl-C twice, or a supervisor
// that signals again, gets a process that is gone, not one still waiting on
// a datastore.
import type { Logger } from './logger.js';

export interface ShutdownStep {
  readonly name: string;
  readonly run: () => unknown;
}

export interface ShutdownOptions {
  readonly steps: readonly ShutdownStep[];
  /** How long the whole sequence may take before the process exits anyway. */
  readonly timeoutMs: number;
  readonly log: Logger;
  /** Logged with the first signal (what happens to work in flight). */
  readonly message?: string;
  readonly signals?: readonly NodeJS.Signals[];
  /** Ends the process; process.exit unless a test passes its own. */
  readonly exit?: (code: number) => void;
}

/** Exit codes: 0 all steps done; 1 a step failed or the deadline passed; 128 + signal number when forced by a second signal. */
export const SHUTDOWN_FAILED = 1;

const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGTERM: 15 };

export interface Shutdown {
  /** Starts the sequence (as a first signal would); a second call forces exit. Resolves with the exit code. */
  begin(reason: string): Promise<number>;
}

/** Installs the signal handlers and returns the sequence, which also runs on demand. */
export function installShutdown(opts: ShutdownOptions): Shutdown {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const finish = (code: number): number => {
    opts.log.flush();
    exit(code);
    return code;
  };
  let running: Promise<number> | null = null;

  const sequence = async (): Promise<number> => {
    let code = 0;
    for (const step of opts.steps) {
      try {
        await step.run();
        opts.log.debug({ step: step.name }, 'shutdown step done');
      } catch (err) {
        code = SHUTDOWN_FAILED;
        opts.log.error({ err, step: step.name }, 'shutdown step failed');
      }
    }
    return code;
  };

  const begin = (reason: string, forcedCode = SHUTDOWN_FAILED): Promise<number> => {
    if (running) {
      opts.log.warn({ reason }, 'second stop request: exiting now, without finishing the shutdown');
      return Promise.resolve(finish(forcedCode));
    }
    opts.log.info({ signal: reason, timeoutMs: opts.timeoutMs }, opts.message ?? 'shutting down');
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<number>((resolve) => {
      timer = setTimeout(() => {
        opts.log.error({ timeoutMs: opts.timeoutMs }, 'shutdown did not finish in time: exiting now');
        resolve(SHUTDOWN_FAILED);
      }, opts.timeoutMs);
    });
    running = Promise.race([sequence(), deadline]).then((code) => {
      clearTimeout(timer);
      if (code === 0) opts.log.info('stopped');
      return finish(code);
    });
    return running;
  };

  for (const signal of opts.signals ?? ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => void begin(signal, 128 + (SIGNAL_NUMBERS[signal] ?? 0)));
  }
  return { begin: (reason) => begin(reason) };
}
