// What every command's action gets: the compiled settings, a connection to
// coffer-control, the output and a progress display; and the wrapper that
// builds them from the global options and closes the connection afterwards.
import type { Command } from 'commander';
import { Connection } from './connection.js';
import { Output } from './output.js';
import { createDisplay, type ProgressDisplay } from './progress.js';
import { compileSettings, type CliSettings, type GlobalOptions } from './settings.js';

export interface CommandContext {
  readonly settings: CliSettings;
  readonly conn: Connection;
  readonly out: Output;
  /** A fresh progress display (bar, lines or nothing, per settings). */
  display(): ProgressDisplay;
}

/** The positional arguments of the running command (variadic ones as arrays). */
export type Args = readonly unknown[];

/**
 * Wraps an action: `fn(ctx, args, opts)`. Errors propagate to main, which
 * prints them; the connection is closed either way.
 */
export function act<O extends object = Record<string, never>>(fn: (ctx: CommandContext, args: Args, opts: O) => Promise<void>) {
  return async (...params: unknown[]): Promise<void> => {
    const cmd = params.at(-1) as Command;
    const out0 = new Output(false);
    const settings = compileSettings(cmd.optsWithGlobals<GlobalOptions>(), process.env, process.stderr.isTTY === true, (l) => out0.note(l));
    const conn = new Connection(settings);
    const ctx: CommandContext = {
      settings,
      conn,
      out: new Output(settings.json),
      display: () => createDisplay(settings.progress),
    };
    try {
      await fn(ctx, cmd.processedArgs, cmd.opts<O>());
    } finally {
      conn.close();
    }
  };
}

/** Commander's collector for a repeatable option (--database a --database b). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
