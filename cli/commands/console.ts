// coffer console INSTANCE [--user NAME]: the local terminal attached to the
// datastore's own client (mariadb, psql, redis-cli) on the instance,
// through coffer-control (docs/console.md). The terminal is put in raw mode
// so that every key (Ctrl-C, arrows, tab) reaches the client, which owns
// the line editing; a window size change (SIGWINCH) is sent on. The command
// ends when the client exits, with the client's exit status.
import { Command } from 'commander';
import type { ClientDuplexStream } from '@grpc/grpc-js';
import type { ConsoleRequest, ConsoleResponse } from '../../proto/gen/coffer/control/v1/console.js';
import { act } from '../context.js';
import { CliError, type ExitCode } from '../errors.js';
import { instanceId } from '../resolve.js';
import { readLoginPassword } from '../secret-files.js';

interface ConsoleOptions {
  user?: string;
  database?: string;
  passwordFile?: string;
}

/** The terminal's size, or a classic 80x24 when stdout is not a terminal. */
function size(): { columns: number; rows: number } {
  const out = process.stdout;
  return { columns: out.isTTY && out.columns > 0 ? out.columns : 80, rows: out.isTTY && out.rows > 0 ? out.rows : 24 };
}

export function consoleCommand(): Command {
  return new Command('console')
    .description('a console on the instance: its datastore\'s own client (mariadb, psql, redis-cli) on this terminal, logged in as --user, or as root')
    .argument('<instance>', 'id or name')
    .option('--user <name>', 'the account to log in as (default: root, which must be enabled)')
    .option('--database <name>', 'the database to open (PostgreSQL default: the first the user may connect to; Redis: a number)')
    .option('--password-file <file>', 'the account\'s password, on the first line of FILE (mode 0600); default: asked without echo')
    .action(
      act<ConsoleOptions>(async ({ conn, out }, args, o) => {
        const id = await instanceId(conn, args[0] as string);
        const who = o.user ? `user ${o.user}` : 'root';
        const password = await readLoginPassword({ file: o.passwordFile, what: who, warn: (l) => out.note(l) });
        // A stream with no deadline: a console lasts as long as the person using it.
        const stream = conn.stream((md) => conn.console.console(md)) as ClientDuplexStream<ConsoleRequest, ConsoleResponse>;
        try {
          const code = await attach(stream, {
            instanceId: id,
            login: { size: size(), user: o.user ?? '', password, root: !o.user, database: o.database ?? '', term: process.env.TERM ?? '' },
          });
          if (code !== 0) {
            // The client said why on the terminal; the status is the client's own.
            throw new CliError(`the console's client exited with code ${code}`, code as ExitCode);
          }
        } catch (err) {
          throw err instanceof CliError ? err : conn.error(err);
        }
      }),
    );
}

/** Runs the session on this process's terminal; resolves the client's exit code. */
function attach(stream: ClientDuplexStream<ConsoleRequest, ConsoleResponse>, open: NonNullable<ConsoleRequest['open']>): Promise<number> {
  const stdin = process.stdin;
  const raw = stdin.isTTY === true;
  return new Promise<number>((resolve, reject) => {
    let exitCode: number | null = null;
    const onInput = (chunk: Buffer): void => void stream.write({ input: chunk });
    const onResize = (): void => void stream.write({ resize: size() });
    const onStdinEnd = (): void => void stream.end();
    const restore = (): void => {
      stdin.off('data', onInput);
      stdin.off('end', onStdinEnd);
      process.off('SIGWINCH', onResize);
      if (raw) stdin.setRawMode(false);
      stdin.pause();
    };
    stream.on('data', (m: ConsoleResponse) => {
      if (m.output) process.stdout.write(m.output);
      else if (m.exitCode !== undefined) exitCode = m.exitCode;
    });
    stream.on('error', (err) => {
      restore();
      reject(err);
    });
    stream.on('end', () => {
      restore();
      if (exitCode === null) reject(new CliError('the console ended without the client\'s exit status (the instance\'s agent or coffer-control went away)', 1));
      else resolve(exitCode);
    });
    stream.write({ open });
    if (raw) stdin.setRawMode(true);
    stdin.on('data', onInput);
    stdin.on('end', onStdinEnd);
    stdin.resume();
    process.on('SIGWINCH', onResize);
  });
}
