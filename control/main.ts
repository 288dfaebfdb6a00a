// coffer-control: `serve` runs the control plane; `token create` prints a
// new API token for a project. Agents keep running when the control stops
// (as VMs outlive their control plane); a restarted control re-adopts them
// and resumes its tasks.
import { Command, Option } from 'commander';
import { createLogger } from '../lib/logger.js';
import { survivePipeReadersGone } from '../lib/broken-pipes.js';
import { repoRoot } from '../lib/repo-root.js';
import { installShutdown } from '../lib/shutdown.js';
import { compileControlConfig, ConfigError, DEFAULT_METRICS, type ControlOptions } from './config.js';
import { openDatabase } from './db/database.js';
import { createToken, validProjectName } from './store/tokens.js';

const VERSION = '0.1.0';

function num(what: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n)) throw new ConfigError(`${what} must be a number, got "${v}"`);
    return n;
  };
}

function fail(err: unknown): never {
  if (err instanceof ConfigError || err instanceof TypeError) {
    process.stderr.write(`coffer-control: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}

async function serve(o: ControlOptions): Promise<void> {
  // Loaded here, not at the top: the servers, the REST bridge and the task
  // engine cost ~0.5 s of CPU to load, which `token create` does not need.
  const { defaultAgentBin, startControl } = await import('./server.js');
  let config;
  try {
    config = compileControlConfig(o, defaultAgentBin(repoRoot()));
  } catch (err) {
    fail(err);
  }
  // A reader of the control's output that went away does not stop it.
  survivePipeReadersGone();
  const log = createLogger({ name: 'coffer-control', level: config.logLevel });
  // Signals are handled from here on; a SIGTERM while the control starts stops what has started.
  let started: Awaited<ReturnType<typeof startControl>> | null = null;
  installShutdown({
    log,
    timeoutMs: 30_000,
    message: 'shutting down; tasks resume at the next start',
    steps: [{ name: 'stop the servers and the task engine', run: () => started?.stop() }],
  });
  const control = await startControl(config, log);
  started = control;
  // The bound ports on one line of their own, for scripts that pass port 0
  // (written once SIGTERM is handled, so whoever reads it may stop the control),
  // with the CA file clients of the public listeners trust (null: none
  // serves the issued certificate).
  process.stdout.write(
    `${JSON.stringify({ msg: 'listening', grpc: control.api.port, rest: control.rest.port, conductor: control.conductor.port, metrics: control.metrics?.port ?? null, tls: control.publicTls.rest !== null || control.publicTls.grpc !== null, caFile: control.publicTls.caFile })}\n`,
  );
  if (control.publicTls.caFile) log.info({ caFile: control.publicTls.caFile }, `clients of the REST bridge and the gRPC API verify them with ${control.publicTls.caFile} (coffer --ca-file, openstack --os-cacert, buf curl --cacert)`);
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command('coffer-control').description('Coffer control plane').version(VERSION);
  program
    .command('serve')
    .description('run the control plane: the gRPC API, the REST bridge, the conductor, the task engine and the compute driver (local, or qemu)')
    .requiredOption('--data-dir <dir>', 'directory for the SQLite database, the CA and local instances')
    .option('--grpc <host:port>', 'gRPC API address, served over TLS', '127.0.0.1:8780')
    .option('--rest <host:port>', 'REST bridge address: Trove\'s v1.0 API for the OpenStack CLI, served over HTTPS', '127.0.0.1:8779')
    .option('--rest-tls-cert <file>', 'the REST bridge\'s PEM certificate (chain allowed); default: one the deployment\'s API CA issues, its CA in DATA-DIR/api-ca.crt')
    .option('--rest-tls-key <file>', 'the PEM private key of --rest-tls-cert')
    .option('--grpc-tls-cert <file>', 'the gRPC API\'s PEM certificate (chain allowed); default: one the deployment\'s API CA issues')
    .option('--grpc-tls-key <file>', 'the PEM private key of --grpc-tls-cert')
    .addOption(new Option('--api-tls-name <name>', 'a DNS name or IP address clients reach the control by, for the certificate the API CA issues (repeat for more; the host\'s name and the bind addresses are in it already)').argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]))
    .option('--plaintext-loopback', 'serve the REST bridge and the gRPC API without TLS; refused unless both bind a loopback address')
    .option('--conductor <host:port>', 'address agents report to over mutual TLS', '127.0.0.1:8781')
    .option('--metrics <host:port>', 'serve Prometheus metrics at http://HOST:PORT/metrics', DEFAULT_METRICS)
    .option('--no-metrics', 'serve no metrics')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent', 'info')
    .option('--heartbeat-seconds <n>', 'how often agents send heartbeats', num('--heartbeat-seconds'))
    .option('--heartbeat-expiry-seconds <n>', 'after this long without a heartbeat an agent shows as unreachable (default 3 heartbeats)', num('--heartbeat-expiry-seconds'))
    .option('--task-deadline-seconds <n>', 'how long a task may run before its instance goes to ERROR', num('--task-deadline-seconds'))
    .option('--auto-failover', 'new replication sets fail over on their own unless their create says otherwise')
    .option('--source-lease-seconds <n>', 'how long a replication source takes writes after its last confirmed heartbeat; automatic failover judges it gone after this (default 12, at most the heartbeat expiry)', num('--source-lease-seconds'))
    .option('--failover-grace-seconds <n>', 'with automatic failover: after the source\'s lease ran out, how long its agent must also fail to answer before a replica takes over (default 5)', num('--failover-grace-seconds'))
    .option('--backup-storage <file>', 'JSON file (mode 600: it holds credentials) choosing Swift or S3 for backups; default: local, under --data-dir (see docs/backup-storage.md)')
    .addOption(new Option('--cluster-member-override <key=value>', 'a configuration override every new cluster member is prepared with (repeat for more); tests give members small buffers').argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]))
    .addOption(new Option('--compute <driver>', 'what runs instances: local (agent processes on this host) or qemu (virtual machines booted from --image)').choices(['local', 'qemu']).default('local'))
    .option('--image <file>', 'with --compute qemu: the qcow2 image instances boot from (make image DATASTORE=mariadb)')
    .option('--boot-timeout-seconds <n>', 'with --compute qemu: how long a new VM\'s agent may take to answer (default 600)', num('--boot-timeout-seconds'))
    .addOption(new Option('--step-delay-ms <n>', 'test seam: pause before each task step').argParser(num('--step-delay-ms')).hideHelp())
    .addOption(new Option('--archive-retention-day-ms <n>', 'test seam: the length of a day to the archive retention pass, which runs every 24th of it').argParser(num('--archive-retention-day-ms')).hideHelp())
    .action((o: ControlOptions) => serve(o).catch(fail));
  const token = program.command('token').description('API tokens');
  token
    .command('create')
    .description('create a token for a project (created if new) and print it; it is shown only once')
    .requiredOption('--data-dir <dir>', 'the control\'s data directory')
    .requiredOption('--project <name>', 'the project the token acts for')
    .option('--admin', 'the token sees every project')
    .action((o: { dataDir: string; project: string; admin?: boolean }) => {
      if (!validProjectName(o.project)) fail(new ConfigError(`--project "${o.project}" is not allowed: use letters, digits, "_", "." or "-" (1-64)`));
      const db = openDatabase(o.dataDir);
      try {
        process.stdout.write(`${createToken(db, o.project, o.admin === true)}\n`);
      } finally {
        db.close();
      }
    });
  await program.parseAsync(argv);
}
