// The agent's command line, read with node's own util.parseArgs: flags
// become AgentOptions (config.ts compiles them with the JSON file), or the
// answer is help or the version. The agent parses its arguments once at
// start, so a parser library is weight it carries for its whole life:
// commander was 0.13 MB of code and source in an idle agent's heap and
// about 1 MB of its RSS in A/B runs (docs/performance.md, "A lean
// agent"); the coffer CLI keeps it. A bad flag is a refused
// configuration (ConfigError: exit status 2, which systemd does not
// restart on), named with what would be accepted.
import { parseArgs } from 'node:util';
import { ConfigError, DEFAULT_CONFIG_PATH, type AgentOptions } from './config.js';

/** What the command line asks for. */
export type AgentCommand =
  | { readonly kind: 'run'; readonly configFile: string | undefined; readonly flags: AgentOptions }
  | { readonly kind: 'help'; readonly text: string }
  | { readonly kind: 'version' };

interface Flag {
  /** The AgentOptions key it sets; none for the config file itself. */
  readonly key?: keyof AgentOptions;
  /** The argument's name in help; none for a switch. */
  readonly arg?: string;
  readonly help: string;
}

// In the order help lists them.
const FLAGS: Readonly<Record<string, Flag>> = {
  config: { arg: 'file', help: `JSON configuration file (default ${DEFAULT_CONFIG_PATH}; flags win over it)` },
  listen: { key: 'listen', arg: 'host:port', help: 'gRPC listen address (default 127.0.0.1:8790)' },
  'metrics-listen': { key: 'metricsListen', arg: 'host:port', help: 'serve Prometheus metrics at http://HOST:PORT/metrics (default: off)' },
  datastore: { key: 'datastore', arg: 'name', help: 'datastore to manage' },
  'datastore-version': { key: 'datastoreVersion', arg: 'version', help: "datastore version (default: the datastore's newest)" },
  'base-dir': { key: 'baseDir', arg: 'dir', help: 'directory for data, config, run files and agent state (default /var/lib/coffer)' },
  'datastore-port': { key: 'datastorePort', arg: 'port', help: 'TCP port of the datastore' },
  'datastore-bind': { key: 'datastoreBind', arg: 'address', help: 'address the datastore listens on (default 127.0.0.1)' },
  'instance-id': { key: 'instanceId', arg: 'id', help: 'this instance\'s id (default "standalone")' },
  insecure: { key: 'insecure', help: 'plaintext gRPC, allowed only on a loopback listen address' },
  'tls-cert': { key: 'tlsCert', arg: 'file', help: 'server certificate (PEM) for mutual TLS' },
  'tls-key': { key: 'tlsKey', arg: 'file', help: 'server private key (PEM)' },
  'tls-ca': { key: 'tlsCa', arg: 'file', help: 'CA (PEM) whose certificates clients must present' },
  'datastore-tls-cert': { key: 'datastoreTlsCert', arg: 'file', help: "the datastore's own serving certificate (PEM) for its clients' TLS; without it the datastore offers no TLS" },
  'datastore-tls-key': { key: 'datastoreTlsKey', arg: 'file', help: "its private key (PEM): not the --tls-key, since the datastore's OS user reads it" },
  'datastore-tls-ca': { key: 'datastoreTlsCa', arg: 'file', help: "the CA (PEM) that signed other instances' datastore certificates, which a replica verifies its source with (default: --tls-ca)" },
  'log-level': { key: 'logLevel', arg: 'level', help: 'fatal, error, warn, info, debug, trace or silent' },
  'backup-dir': { key: 'backupDir', arg: 'dir', help: 'local backup storage directory (default <base-dir>/backups)' },
  'backup-key-file': { key: 'backupKeyFile', arg: 'file', help: 'wrapping key for backups, 32 bytes or 64 hex (default <base-dir>/agent/backup.key, created 0600)' },
};

/** The help text; `datastores` are the names --datastore accepts. */
export function agentHelp(datastores: readonly string[]): string {
  const rows: [string, string][] = [
    ['-V, --version', 'output the version number'],
    ...Object.entries(FLAGS).map(([name, f]): [string, string] => [
      `--${name}${f.arg ? ` <${f.arg}>` : ''}`,
      name === 'datastore' ? `${f.help} (choices: ${datastores.map((d) => `"${d}"`).join(', ')})` : f.help,
    ]),
    ['-h, --help', 'display help for command'],
  ];
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  return [
    'Usage: coffer-agent [options]',
    '',
    'Coffer guest agent: prepares and supervises one datastore and serves coffer.agent.v1 over gRPC',
    '',
    'Options:',
    ...rows.map(([l, h]) => `  ${l.padEnd(width)}${h}`),
    '',
    'Examples:',
    '  coffer-agent --insecure --listen 127.0.0.1:8790 --datastore mariadb --base-dir /tmp/coffer --datastore-port 3307',
    '  buf curl --protocol grpc --http2-prior-knowledge --list-methods http://127.0.0.1:8790',
    '',
  ].join('\n');
}

/** Reads the agent's arguments (without node and the script); throws ConfigError on a bad one. */
export function parseAgentArgs(args: readonly string[], datastores: readonly string[]): AgentCommand {
  const options = Object.fromEntries([
    ...Object.entries(FLAGS).map(([name, f]) => [name, { type: f.arg ? 'string' : 'boolean' }] as const),
    ['help', { type: 'boolean', short: 'h' }] as const,
    ['version', { type: 'boolean', short: 'V' }] as const,
  ]);
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: [...args], options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (err) {
    // parseArgs's own words name the flag ("Unknown option '--lisen'",
    // "Option '--listen' argument is ambiguous. Did you forget to specify
    // the option argument for '--listen'?"), on one line, without its
    // advice on dashes in values.
    const words = (err as Error).message.split('\n').filter((l) => !l.startsWith('To specify')).join(' ');
    throw new ConfigError(`${words.replace(/\.? To specify .*$/s, '')}; see coffer-agent --help`);
  }
  if (values.help) return { kind: 'help', text: agentHelp(datastores) };
  if (values.version) return { kind: 'version' };
  const flags: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(FLAGS)) {
    const v = values[name];
    if (v === undefined || !f.key) continue;
    flags[f.key] = name === 'datastore-port' ? parsePort(v as string) : v;
  }
  return { kind: 'run', configFile: values.config as string | undefined, flags: flags as AgentOptions };
}

function parsePort(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n)) throw new ConfigError(`--datastore-port must be an integer, got "${v}"`);
  return n;
}
