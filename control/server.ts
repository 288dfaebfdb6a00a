// Builds the control from its configuration and runs it: database, CA,
// compute driver, task engine, the API and the conductor listeners.
// Start order matters: the driver re-adopts agents before tasks resume (a
// resumed step may talk to an agent), and the conductor listens before
// agents are started.
import path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '../lib/logger.js';
import { ProcessRunner } from '../lib/process-runner.js';
import { startGrpcServer, type CofferServer } from '../lib/grpc-server.js';
import type { CompiledControlConfig } from './config.js';
import { openDatabase } from './db/database.js';
import { ControlEvents } from './events.js';
import { CatalogStore } from './store/catalog.js';
import { InstanceStore } from './store/instances.js';
import { BackupStore } from './store/backups.js';
import { TaskStore } from './store/tasks.js';
import { ClusterStore } from './store/clusters.js';
import { OpenSsl } from './ca/openssl.js';
import { CertificateAuthority } from './ca/authority.js';
import { BackupKeys } from './backup-keys.js';
import { LocalDriver } from './compute/local.js';
import { QemuDriver } from './compute/qemu.js';
import { BaseImageError, checkImage } from './compute/base-image.js';
import type { ComputeDriver } from './compute/driver.js';
import { AgentConnector } from './agent-client.js';
import { TaskEngine } from './tasks/engine.js';
import { allocationOf, type ControlContext } from './context.js';
import { createWorkflow } from './workflows/create.js';
import { deleteWorkflow } from './workflows/delete.js';
import { restartWorkflow } from './workflows/restart.js';
import { resizeWorkflow } from './workflows/resize.js';
import { backupWorkflow } from './workflows/backup.js';
import { REPLICATION_WORKFLOWS } from './workflows/replication/index.js';
import { CLUSTER_WORKFLOWS } from './workflows/cluster/index.js';
import { ReplicationSecrets } from './replication-secret.js';
import { FailoverWatcher } from './replication/failover-watcher.js';
import { RecoveryWatcher } from './cluster/recovery-watcher.js';
import { RetentionWatcher } from './archive/retention-watcher.js';
import { addInstanceService } from './api/instance-service.js';
import { addAccountService } from './api/account-service.js';
import { addBackupService } from './api/backup-service.js';
import { addArchivingService } from './api/archiving-service.js';
import { addCatalogService } from './api/catalog-service.js';
import { addTaskService } from './api/task-service.js';
import { addClusterService } from './api/cluster-service.js';
import { startConductorServer } from './conductor/service.js';
import { ConfigError } from './config.js';
import { startRestServer, type RestServer } from './rest/server.js';
import { MetricsListenError, startMetricsServer, type MetricsServer } from '../lib/metrics-server.js';

export interface RunningControl {
  readonly context: ControlContext;
  readonly api: CofferServer;
  readonly conductor: CofferServer;
  /** The REST bridge (Trove v1.0), over the same service layer as `api`. */
  readonly rest: RestServer;
  /** /metrics; null with --no-metrics. */
  readonly metrics: MetricsServer | null;
  stop(): Promise<void>;
}

export async function startControl(config: CompiledControlConfig, log: Logger): Promise<RunningControl> {
  // Tokens travel in clear until API TLS lands: loopback only, as --grpc.
  if (!/^(127\.\d+\.\d+\.\d+|localhost|::1)$/.test(config.rest.host)) {
    throw new ConfigError(`--rest ${config.rest.host} is refused: the REST bridge serves plaintext, allowed only on a loopback address for now`);
  }
  const db = openDatabase(config.dataDir);
  // Loaded only when served: --no-metrics never loads prom-client.
  const metrics = config.metrics ? (await import('./metrics/control-metrics.js')).createControlMetrics(db) : null;
  // Bound first: an address in use stops the start before anything else runs.
  let metricsServer: MetricsServer | null = null;
  if (metrics && config.metrics) {
    try {
      metricsServer = await startMetricsServer({ ...config.metrics, registry: metrics.registry, what: '--metrics', onError: (err) => log.error({ err }, 'metrics collection failed') });
    } catch (err) {
      db.close();
      if (err instanceof MetricsListenError) throw new ConfigError(`${err.message} (choose another with --metrics HOST:PORT, or --no-metrics)`);
      throw err;
    }
  }
  const runner = new ProcessRunner(log);
  const ca = await CertificateAuthority.open(config.dataDir, new OpenSsl(runner), db, log);
  new BackupKeys(config.dataDir).ensureMaster();
  const events = new ControlEvents();
  const instances = new InstanceStore(db);
  const tasks = new TaskStore(db);
  const engine = new TaskEngine({ db, tasks, events, log: log.child({ component: 'tasks' }), stepDelayMs: config.stepDelayMs, observer: metrics?.tasks });
  const driver = await computeDriver(config, runner, log, () => instances.usedPorts());
  const context: ControlContext = {
    config,
    db,
    log,
    events,
    catalog: new CatalogStore(db),
    instances,
    backups: new BackupStore(db),
    tasks,
    clusters: new ClusterStore(db),
    driver,
    ca,
    connector: new AgentConnector({ ca: ca.instancesCa.cert, cert: ca.control.cert, key: ca.control.key }),
    engine,
    replicationSecrets: ReplicationSecrets.open(config.dataDir),
  };
  for (const w of [createWorkflow, deleteWorkflow, restartWorkflow, resizeWorkflow, backupWorkflow, ...REPLICATION_WORKFLOWS, ...CLUSTER_WORKFLOWS]) engine.register(w(context));

  const conductor = await startConductorServer(context);
  await driver.adopt(
    instances.all().flatMap((r) => {
      const allocation = allocationOf(r);
      // A BUILD instance's agent is started by its resumed create task.
      return allocation ? [{ id: r.id, allocation, shouldRun: r.status !== 'BUILD' && r.status !== 'DELETING' }] : [];
    }),
  );
  const resumed = engine.resumeAll();
  const api = await startGrpcServer({
    host: config.grpc.host,
    port: config.grpc.port,
    tls: null,
    interceptors: metrics ? [metrics.grpcInterceptor] : [],
    register: (server: grpc.Server) => {
      addInstanceService(server, context);
      addAccountService(server, context);
      addBackupService(server, context);
      addArchivingService(server, context);
      addCatalogService(server, context);
      addTaskService(server, context);
      addClusterService(server, context);
    },
  });
  const rest = await startRestServer(context, config.rest.host, config.rest.port, metrics?.observeRest);
  const failover = new FailoverWatcher(context);
  failover.start();
  const recovery = new RecoveryWatcher(context);
  recovery.start();
  const retention = new RetentionWatcher(context);
  retention.start();
  log.info({ grpc: `${config.grpc.host}:${api.port}`, rest: `${config.rest.host}:${rest.port}`, conductor: `${config.conductor.host}:${conductor.port}`, metrics: metricsServer?.url ?? 'off', resumedTasks: resumed, dataDir: config.dataDir, backupStorage: config.backupStorage.defaultStorage }, 'coffer-control listening');

  return {
    context,
    api,
    conductor,
    rest,
    metrics: metricsServer,
    async stop() {
      await failover.stop();
      await recovery.stop();
      await retention.stop();
      await rest.close();
      await api.close(2000);
      await engine.stop();
      await conductor.close(2000);
      await metricsServer?.close();
      db.close();
    },
  };
}

async function computeDriver(config: CompiledControlConfig, runner: ProcessRunner, log: Logger, usedPorts: () => Set<number>): Promise<ComputeDriver> {
  const compute = config.compute;
  if (compute.driver === 'local') {
    return new LocalDriver({ dataDir: config.dataDir, runner, log: log.child({ component: 'compute-local' }), agentBin: config.agentBin, usedPorts });
  }
  try {
    await checkImage(runner, compute.image);
  } catch (err) {
    if (err instanceof BaseImageError) throw new ConfigError(err.message);
    throw err;
  }
  return new QemuDriver({
    dataDir: config.dataDir,
    runner,
    log: log.child({ component: 'compute-qemu' }),
    image: compute.image,
    conductorPort: () => config.conductor.port,
    usedPorts,
    bootTimeoutMs: compute.bootTimeoutMs,
  });
}

export const defaultAgentBin = (repo: string): string => path.join(repo, 'bin', 'coffer-agent');
