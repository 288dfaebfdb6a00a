// coffer: the operator's CLI over coffer-control's gRPC API. This file only
// wires the command groups (cli/commands/) to the global options and turns
// every failure into one line on stderr and an exit status (cli/errors.ts).
import { Command, CommanderError, Option } from 'commander';
import { backupCommand } from './commands/backup.js';
import { datastoreCommand, flavorCommand } from './commands/catalog.js';
import { clusterCommand } from './commands/cluster.js';
import { configurationCommand } from './commands/configuration.js';
import { consoleCommand } from './commands/console.js';
import { databaseCommand } from './commands/database.js';
import { instanceCommand } from './commands/instance.js';
import { logCommand } from './commands/log.js';
import { rootCommand } from './commands/root.js';
import { userCommand } from './commands/user.js';
import { EXIT, toCliError, usage } from './errors.js';
import { DEFAULT_ENDPOINT } from './settings.js';

const VERSION = '0.1.0';

/** Options that would put a secret on argv: accepted by the parser only to be refused with the way to do it. */
const REFUSED_SECRETS = ['password', 'rootPassword'] as const;

function leaves(cmd: Command): Command[] {
  return cmd.commands.length === 0 ? [cmd] : cmd.commands.flatMap(leaves);
}

function all(cmd: Command): Command[] {
  return [cmd, ...cmd.commands.flatMap(all)];
}

export function buildProgram(): Command {
  const program = new Command('coffer')
    .description(
      'Coffer\'s operator CLI: instances, clusters, databases, users, root and backups through coffer-control.\n' +
        'The token comes from COFFER_TOKEN or --token-file FILE, never the command line.',
    )
    .version(VERSION)
    .option('--endpoint <host:port>', `coffer-control's gRPC API (env COFFER_ENDPOINT; default ${DEFAULT_ENDPOINT})`)
    .option('--ca-file <file>', 'verify coffer-control\'s TLS with this CA certificate (PEM; env COFFER_CA_FILE; default: the system\'s CAs); coffer-control prints its own, DATA-DIR/api-ca.crt')
    .option('--plaintext', 'speak plaintext gRPC, to a control serving --plaintext-loopback (env COFFER_PLAINTEXT=1); loopback endpoints only')
    .option('--token-file <file>', 'read the API token from FILE, mode 0600 (default: env COFFER_TOKEN, or COFFER_TOKEN_FILE)')
    .option('--json', 'print JSON on stdout, for scripts; no progress display')
    .option('--timeout <seconds>', 'deadline of each call to coffer-control (default 60)')
    .addOption(new Option('--token <value>').hideHelp());
  for (const c of [instanceCommand(), clusterCommand(), databaseCommand(), userCommand(), rootCommand(), backupCommand(), logCommand(), datastoreCommand(), flavorCommand(), configurationCommand(), consoleCommand()]) {
    program.addCommand(c);
  }
  for (const leaf of leaves(program)) {
    leaf.addOption(new Option('--password <value>').hideHelp());
    leaf.addOption(new Option('--root-password <value>').hideHelp());
  }
  for (const c of all(program)) c.exitOverride().showHelpAfterError('(add --help for usage)');
  program.hook('preAction', (_program, action) => {
    const o = action.opts<Record<string, unknown>>();
    for (const k of REFUSED_SECRETS) {
      if (o[k] !== undefined) {
        const flag = k === 'password' ? '--password' : '--root-password';
        throw usage(`${flag} is refused: a password on the command line is visible to every user of this host (ps, shell history); use ${flag}-file FILE (mode 0600), "-" for stdin, or answer the prompt`);
      }
    }
  });
  return program;
}

/** Runs the CLI; resolves the exit status. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return EXIT.OK;
  } catch (err) {
    // Commander has already printed its own usage message.
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    const endpoint = program.opts<{ endpoint?: string }>().endpoint ?? process.env.COFFER_ENDPOINT ?? DEFAULT_ENDPOINT;
    const plaintext = program.opts<{ plaintext?: boolean }>().plaintext === true || process.env.COFFER_PLAINTEXT === '1';
    const e = toCliError(err, { endpoint, plaintext });
    process.stderr.write(`coffer: ${e.message}\n`);
    if (process.env.COFFER_DEBUG) process.stderr.write(`${(e.cause as Error | undefined)?.stack ?? e.stack}\n`);
    return e.exitCode;
  }
}
