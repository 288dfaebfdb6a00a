// coffer-agent: the guest agent. Compiles its configuration once, starts the
// gRPC server, brings the datastore back if it was running, and on SIGTERM
// cancels operations, stops the datastore cleanly and exits 0 (the shutdown
// sequence is lib/shutdown.ts: a second signal exits at once).
import type { ArchiveStatus } from '../proto/gen/coffer/agent/v1/archive.js';
import { pino } from 'pino';
import { createLogger } from '../lib/logger.js';
import { ProcessRunner } from '../lib/process-runner.js';
import { installShutdown } from '../lib/shutdown.js';
import { survivePipeReadersGone } from '../lib/broken-pipes.js';
import type { MetricsServer } from '../lib/metrics-server.js';
import { compileAgentConfig, ConfigError, DEFAULT_CONFIG_PATH, readConfigFile } from './config.js';
import { parseAgentArgs } from './cli-args.js';
import { mkdirSync } from 'node:fs';
import { layoutFor } from './layout.js';
import { rotateIfLarger } from './logs/rotate.js';
import { DATASTORES } from './managers/catalog.js';
import { Agent, AGENT_VERSION } from './agent.js';
import { startAgentServer } from './server.js';
import { Backups } from './backup/backups.js';
import { loadWrappingKey } from '../strategies/backup/key-file.js';
import { DataVolume } from './lifecycle/data-volume.js';
import { removeAbandonedUploads } from './backup/abandoned-uploads.js';
import { ConductorClient } from './conductor-client.js';
import { STATE_TO_PROTO } from './state.js';

export async function main(argv: string[]): Promise<void> {
  let config;
  try {
    const command = parseAgentArgs(argv.slice(2), [...DATASTORES.keys()]);
    if (command.kind === 'help') {
      process.stdout.write(command.text);
      return;
    }
    if (command.kind === 'version') {
      process.stdout.write(`${AGENT_VERSION}\n`);
      return;
    }
    const fileOpts = readConfigFile(command.configFile ?? DEFAULT_CONFIG_PATH, command.configFile !== undefined);
    config = compileAgentConfig(fileOpts, command.flags, DATASTORES);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`coffer-agent: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }

  // An agent started by the local compute driver logs to a file, because it
  // outlives the control whose pipes it was given; any agent outlives a
  // reader of its output that went away.
  survivePipeReadersGone();
  if (!config.logFile) mkdirSync(layoutFor(config.baseDir).agentDir, { recursive: true, mode: 0o700 });
  const guestLog = config.logFile ? null : pino.destination({ dest: layoutFor(config.baseDir).guestLogFile, sync: false });
  const log = createLogger({
    name: 'coffer-agent',
    level: config.logLevel,
    // Without a log file, a copy under the agent's own directory: the SYS
    // log guest (agent/logs/), which TailLog and PublishLog read.
    destination: config.logFile
      ? pino.destination({ dest: config.logFile, sync: false, mkdir: true })
      : pino.multistream([
          { level: 'trace', stream: pino.destination({ fd: 1, sync: true }) }, // synchronous: see lib/logger.ts
          { level: 'trace', stream: guestLog! },
        ]),
  });
  if (guestLog) {
    const file = layoutFor(config.baseDir).guestLogFile;
    setInterval(() => {
      if (rotateIfLarger(file)) guestLog.reopen();
    }, 60_000).unref();
  }
  // Signals are handled from here on (a SIGTERM while the agent starts
  // stops what has started, the datastore cleanly); each step stops what
  // exists when it runs.
  let agent: Agent | null = null;
  let server: Awaited<ReturnType<typeof startAgentServer>> | null = null;
  let metricsServer: MetricsServer | null = null;
  let conductor: ConductorClient | null = null;
  let archivingRef: { close(): unknown } | undefined;
  // The datastore gets the supervisor's own grace (60 s) to stop cleanly
  // before it is killed; the deadline leaves room for that and the rest.
  installShutdown({
    log,
    timeoutMs: 90_000,
    steps: [
      { name: 'stop heartbeats', run: () => conductor?.stop() },
      { name: 'cancel operations and stop the datastore', run: () => agent?.shutdown() },
      { name: 'close the gRPC server', run: () => server?.close() },
      { name: 'close the archiving socket', run: () => archivingRef?.close() },
      { name: 'close the metrics server', run: () => metricsServer?.close() },
    ],
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
  agent = new Agent({ config, layout, manager, runner, log, volume });
  const live = agent;

  mkdirSync(layout.agentDir, { recursive: true, mode: 0o700 });

  // The archive's figures for /metrics, once archiving is wired below.
  let readArchiveStatus: (() => Promise<ArchiveStatus>) | undefined;
  // Loaded only when asked for: an agent without metrics never loads prom-client.
  const metrics = config.metrics ? (await import('./metrics/agent-metrics.js')).createAgentMetrics(live, manager.archive ? () => readArchiveStatus?.() : undefined) : null;
  const backups = new Backups(live, config.backup, () => loadWrappingKey(config.backup.keyFile), runner, log.child({ component: 'backup' }), metrics?.observeBackup);
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
        restartDatastore: () => live.restart(),
        crashed: () => (live.state.get().state === 'CRASHED' ? live.state.get().reason || 'it exited' : undefined),
      })
    : undefined;
  await archiving?.start();
  if (archiving) readArchiveStatus = () => archiving.archiver.status();
  archivingRef = archiving;
  server = await startAgentServer(live, backups, log, archiving);
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

  // Report to the conductor when one is configured.
  if (config.control && config.tls) {
    conductor = new ConductorClient({
      instanceId: config.instanceId,
      host: config.control.host,
      port: config.control.port,
      heartbeatMs: config.control.heartbeatMs,
      tls: config.tls,
      log: log.child({ component: 'conductor-client' }),
      status: async () => {
        const s = live.state.get();
        const replication = await live.replication.status();
        // A cluster member's wsrep view rides along (one local status query);
        // a failure to read it must not stop the heartbeat.
        const cluster = live.manager.cluster ? await live.cluster.context().catch(() => undefined) : undefined;
        return { state: STATE_TO_PROTO[s.state], reason: s.reason, agentVersion: AGENT_VERSION, datastorePort: config.datastorePort, replication, cluster };
      },
      onAnswer: (res, sentAtMs) => live.replication.onVerdict(res.sourceVerdict, Number(res.sourceLeaseMs), sentAtMs),
    });
    conductor.start();
  }

  // The bound ports on one line of their own, for scripts that pass port 0;
  // written once SIGTERM is handled, so whoever reads it may stop the agent.
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port: server.port, ...(metricsServer ? { metricsPort: metricsServer.port } : {}) })}\n`);

  void live.boot().catch((err) => log.error({ err }, 'boot failed'));
}
