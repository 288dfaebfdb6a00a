// coffer-agent: the guest agent. Compiles its configuration once, starts the
// gRPC server, brings the datastore back if it was running, and on SIGTERM
// cancels operations, stops the datastore cleanly and exits 0 (the shutdown
// sequence is lib/shutdown.ts: a second signal exits at once).
import type { ArchiveStatus } from '../proto/gen/coffer/agent/v1/archive.js';
import { Command, Option } from 'commander';
import { pino } from 'pino';
import { createLogger } from '../lib/logger.js';
import { ProcessRunner } from '../lib/process-runner.js';
import { installShutdown } from '../lib/shutdown.js';
import type { MetricsServer } from '../lib/metrics-server.js';
import { compileAgentConfig, ConfigError, DEFAULT_CONFIG_PATH, readConfigFile, type AgentOptions } from './config.js';
import { layoutFor } from './layout.js';
import { DATASTORES } from './managers/catalog.js';
import { Agent, AGENT_VERSION } from './agent.js';
import { startAgentServer } from './server.js';
import { Backups } from './backup/backups.js';
import { loadWrappingKey } from '../strategies/backup/key-file.js';
import { DataVolume } from './lifecycle/data-volume.js';
import { removeAbandonedUploads } from './backup/abandoned-uploads.js';
import { ConductorClient } from './conductor-client.js';
import { STATE_TO_PROTO } from './state.js';

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new ConfigError(`--datastore-port must be an integer, got "${v}"`);
  return n;
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command('coffer-agent')
    .description('Coffer guest agent: prepares and supervises one datastore and serves coffer.agent.v1 over gRPC')
    .version(AGENT_VERSION)
    .option('--config <file>', `JSON configuration file (default ${DEFAULT_CONFIG_PATH}; flags win over it)`)
    .option('--listen <host:port>', 'gRPC listen address (default 127.0.0.1:8790)')
    .option('--metrics-listen <host:port>', 'serve Prometheus metrics at http://HOST:PORT/metrics (default: off)')
    .addOption(new Option('--datastore <name>', 'datastore to manage').choices([...DATASTORES.keys()]))
    .option('--datastore-version <version>', 'datastore version (default: the datastore\'s newest)')
    .option('--base-dir <dir>', 'directory for data, config, run files and agent state (default /var/lib/coffer)')
    .option('--datastore-port <port>', 'TCP port of the datastore', parsePort)
    .option('--datastore-bind <address>', 'address the datastore listens on (default 127.0.0.1)')
    .option('--instance-id <id>', 'this instance\'s id (default "standalone")')
    .option('--insecure', 'plaintext gRPC, allowed only on a loopback listen address')
    .option('--tls-cert <file>', 'server certificate (PEM) for mutual TLS')
    .option('--tls-key <file>', 'server private key (PEM)')
    .option('--tls-ca <file>', 'CA (PEM) whose certificates clients must present')
    .option('--datastore-tls-cert <file>', 'the datastore\'s own serving certificate (PEM) for its clients\' TLS; without it the datastore offers no TLS')
    .option('--datastore-tls-key <file>', 'its private key (PEM): not the --tls-key, since the datastore\'s OS user reads it')
    .option('--datastore-tls-ca <file>', 'the CA (PEM) that signed other instances\' datastore certificates, which a replica verifies its source with (default: --tls-ca)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent')
    .option('--backup-dir <dir>', 'local backup storage directory (default <base-dir>/backups)')
    .option('--backup-key-file <file>', 'wrapping key for backups, 32 bytes or 64 hex (default <base-dir>/agent/backup.key, created 0600)')
    .addHelpText('after', `
Examples:
  coffer-agent --insecure --listen 127.0.0.1:8790 --datastore mariadb --base-dir /tmp/coffer --datastore-port 3307
  buf curl --protocol grpc --http2-prior-knowledge --list-methods http://127.0.0.1:8790`);
  program.parse(argv);
  const o = program.opts();

  let config;
  try {
    const fileOpts = readConfigFile(o.config ?? DEFAULT_CONFIG_PATH, o.config !== undefined);
    const flags: AgentOptions = {
      listen: o.listen,
      metricsListen: o.metricsListen,
      datastore: o.datastore,
      datastoreVersion: o.datastoreVersion,
      baseDir: o.baseDir,
      datastorePort: o.datastorePort,
      datastoreBind: o.datastoreBind,
      instanceId: o.instanceId,
      insecure: o.insecure,
      tlsCert: o.tlsCert,
      tlsKey: o.tlsKey,
      tlsCa: o.tlsCa,
      datastoreTlsCert: o.datastoreTlsCert,
      datastoreTlsKey: o.datastoreTlsKey,
      datastoreTlsCa: o.datastoreTlsCa,
      logLevel: o.logLevel,
      backupDir: o.backupDir,
      backupKeyFile: o.backupKeyFile,
    };
    config = compileAgentConfig(fileOpts, flags, DATASTORES);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`coffer-agent: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }

  // An agent started by the local compute driver logs to a file, because it outlives the control whose pipes it was given
  // (a write to a dead pipe would fail with EPIPE).
  if (config.logFile) process.stderr.on('error', () => undefined);
  const log = createLogger({
    name: 'coffer-agent',
    level: config.logLevel,
    destination: config.logFile ? pino.destination({ dest: config.logFile, sync: false, mkdir: true }) : undefined,
  });
  const runner = new ProcessRunner(log);
  const layout = layoutFor(config.baseDir);
  // The data volume is mounted again (after a reboot) before anything reads
  // the base dir or starts the datastore; a blank one waits for Prepare.
  const volume = config.dataVolume ? new DataVolume(config.dataVolume, runner, log.child({ component: 'data-volume' })) : undefined;
  if (volume) {
    try {
      await volume.attachAtBoot();
    } catch (err) {
      log.fatal({ err }, 'cannot mount the data volume');
      process.stderr.write(`coffer-agent: cannot mount the data volume: ${(err as Error).message}\n`);
      process.exit(1);
    }
  }
  // Only the chosen datastore's manager and driver are loaded (catalog.ts).
  const factory = await DATASTORES.get(config.datastore)!.load();
  const manager = factory.create({ config, layout, runner, log });
  const agent = new Agent({ config, layout, manager, runner, log, volume });

  const { mkdirSync } = await import('node:fs');
  mkdirSync(layout.agentDir, { recursive: true, mode: 0o700 });

  // The archive's figures for /metrics, once archiving is wired below.
  let readArchiveStatus: (() => Promise<ArchiveStatus>) | undefined;
  // Loaded only when asked for: an agent without metrics never loads prom-client.
  const metrics = config.metrics ? (await import('./metrics/agent-metrics.js')).createAgentMetrics(agent, manager.archive ? () => readArchiveStatus?.() : undefined) : null;
  const backups = new Backups(agent, config.backup, () => loadWrappingKey(config.backup.keyFile), runner, log.child({ component: 'backup' }), metrics?.observeBackup);
  void removeAbandonedUploads({ store: (n) => backups.store(n), settings: config.backup, instanceId: config.instanceId, log: log.child({ component: 'backup' }) });
  // Archiving (docs/pitr.md): its local socket opens before the datastore
  // first starts here, since archive_command reaches the agent through it.
  const archiving = manager.archive
    ? new (await import('./archive/archiving.js')).Archiving({
        capability: manager.archive,
        datastore: manager.name,
        instanceId: config.instanceId,
        layout,
        store: (n) => backups.store(n),
        defaultStorage: config.backup.defaultStorage,
        wrappingKey: () => loadWrappingKey(config.backup.keyFile),
        runner,
        log: log.child({ component: 'archive' }),
        restartDatastore: () => agent.restart(),
        crashed: () => (agent.state.get().state === 'CRASHED' ? agent.state.get().reason || 'it exited' : undefined),
      })
    : undefined;
  await archiving?.start();
  if (archiving) readArchiveStatus = () => archiving.archiver.status();
  const server = await startAgentServer(agent, backups, log, archiving);
  let metricsServer: MetricsServer | null = null;
  if (metrics && config.metrics) {
    const { MetricsListenError, startMetricsServer } = await import('../lib/metrics-server.js');
    try {
      metricsServer = await startMetricsServer({ ...config.metrics, registry: metrics.registry, what: 'metricsListen', onError: (err) => log.error({ err }, 'metrics collection failed') });
    } catch (err) {
      if (!(err instanceof MetricsListenError)) throw err;
      await server.close(1000);
      process.stderr.write(`coffer-agent: ${err.message}\n`);
      process.exit(2);
    }
  }
  log.info({ listen: `${config.listenHost}:${server.port}`, metrics: metricsServer?.url ?? 'off', datastore: config.datastore, tls: config.tls !== null }, 'coffer-agent listening');
  // The bound ports on one line of their own, for scripts that pass port 0.
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port: server.port, ...(metricsServer ? { metricsPort: metricsServer.port } : {}) })}\n`);

  // Report to the conductor when one is configured.
  let conductor: ConductorClient | null = null;
  if (config.control && config.tls) {
    conductor = new ConductorClient({
      instanceId: config.instanceId,
      host: config.control.host,
      port: config.control.port,
      heartbeatMs: config.control.heartbeatMs,
      tls: config.tls,
      log: log.child({ component: 'conductor-client' }),
      status: async () => {
        const s = agent.state.get();
        const replication = await agent.replication.status();
        // A cluster member's wsrep view rides along (one local status query);
        // a failure to read it must not stop the heartbeat.
        const cluster = agent.manager.cluster ? await agent.cluster.context().catch(() => undefined) : undefined;
        return { state: STATE_TO_PROTO[s.state], reason: s.reason, agentVersion: AGENT_VERSION, datastorePort: config.datastorePort, replication, cluster };
      },
      onAnswer: (res, sentAtMs) => agent.replication.onVerdict(res.sourceVerdict, Number(res.sourceLeaseMs), sentAtMs),
    });
    conductor.start();
  }

  // The datastore gets the supervisor's own grace (60 s) to stop cleanly
  // before it is killed; the deadline leaves room for that and the rest.
  installShutdown({
    log,
    timeoutMs: 90_000,
    steps: [
      { name: 'stop heartbeats', run: () => conductor?.stop() },
      { name: 'cancel operations and stop the datastore', run: () => agent.shutdown() },
      { name: 'close the gRPC server', run: () => server.close() },
      { name: 'close the archiving socket', run: () => archiving?.close() },
      { name: 'close the metrics server', run: () => metricsServer?.close() },
    ],
  });

  void agent.boot().catch((err) => log.error({ err }, 'boot failed'));
}
