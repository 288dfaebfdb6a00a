// The agent's Prometheus metrics (docs/metrics.md lists them). Loaded only
// when metricsListen is set (main.ts imports this file on demand): an agent
// with metrics off never loads prom-client.
//
// Most values are read from the agent when scraped (state, restarts,
// volume, connections, replication), so nothing runs between scrapes and
// nothing here can drift from what GetStatus says; backups are pushed as
// they end (the observer handed to Backups). One private registry, not
// prom-client's global one.
import type { StatsFs } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Agent } from '../agent.js';
import { AGENT_VERSION } from '../status.js';
import type { LifecycleState } from '../state.js';
import type { BackupObserver } from '../backup/backup-outcome.js';
import type { ReplicationStatus } from '../../proto/gen/coffer/agent/v1/replication_state.js';
import type { ArchiveStatus } from '../../proto/gen/coffer/agent/v1/archive.js';

/**
 * Continuous archiving (docs/pitr.md): the figures GetStatus's archive
 * carries, read once per scrape (the status lists pg_wal/archive_status).
 */
function archiveGauges(read: () => Promise<ArchiveStatus | undefined> | undefined, register: Registry[]): void {
  let cached: { at: number; status: Promise<ArchiveStatus | undefined> } | undefined;
  const status = (): Promise<ArchiveStatus | undefined> => {
    if (!cached || Date.now() - cached.at > 1000) cached = { at: Date.now(), status: Promise.resolve(read()).catch(() => undefined) };
    return cached.status;
  };
  const gauge = (name: string, help: string, value: (s: ArchiveStatus) => number): void => {
    new Gauge({
      name,
      help,
      registers: register,
      async collect() {
        const s = await status();
        this.set(s ? value(s) : 0);
      },
    });
  };
  gauge('coffer_agent_archive_enabled', '1 while continuous archiving is on, else 0', (s) => (s.enabled ? 1 : 0));
  gauge('coffer_agent_archive_pending_files', 'closed WAL segments (binlogs) not archived yet', (s) => Number(s.pendingCount));
  gauge('coffer_agent_archive_pending_bytes', 'bytes of the closed files not archived yet', (s) => Number(s.pendingBytes));
  gauge('coffer_agent_archive_lag_seconds', 'seconds the oldest unarchived closed file has waited; 0 when none', (s) => s.lagSeconds);
  gauge('coffer_agent_archive_local_log_bytes', 'bytes of change log kept on the instance (pg_wal, the binlogs)', (s) => Number(s.localLogBytes));
  gauge('coffer_agent_archive_failures', 'archive attempts that failed since the agent started', (s) => Number(s.failedCount));
  gauge('coffer_agent_archive_last_success_timestamp_seconds', 'Unix time the last file was archived; 0 until one was since the agent started', (s) => Number(s.lastArchivedAtMs) / 1000);
}

const STATES: readonly LifecycleState[] = ['NEW', 'BUILDING', 'ACTIVE', 'STARTING', 'STOPPING', 'SHUTDOWN', 'CRASHED', 'RESTART_REQUIRED', 'FAILED'];
const ROLES = ['standalone', 'source', 'replica'] as const;
/** Lag in transactions, not bytes: GTID dialects count transactions not applied. */
const TRANSACTION_DIALECTS = new Set(['mariadb-gtid', 'mysql-gtid']);
/** A datastore that does not answer must not hold a scrape up (Prometheus' default timeout is 10 s). */
const QUERY_TIMEOUT_MS = 2000;
/** From a sub-second Redis RDB to a multi-hour physical copy. */
const BACKUP_BUCKETS = [0.5, 2, 10, 60, 300, 1800, 7200, 28800];

export interface AgentMetrics {
  readonly registry: Registry;
  readonly observeBackup: BackupObserver;
}

export function createAgentMetrics(agent: Agent, archiveStatus?: () => Promise<ArchiveStatus | undefined> | undefined): AgentMetrics {
  const registry = new Registry();
  const register = [registry];
  collectDefaultMetrics({ register: registry });
  if (archiveStatus) archiveGauges(archiveStatus, register);

  new Gauge({
    name: 'coffer_agent_info',
    help: 'Always 1; its labels say which instance, datastore and agent this is',
    labelNames: ['instance_id', 'datastore', 'datastore_version', 'agent_version'],
    registers: register,
    collect() {
      this.set({ instance_id: agent.config.instanceId, datastore: agent.manager.name, datastore_version: agent.manager.version, agent_version: AGENT_VERSION }, 1);
    },
  });
  new Gauge({
    name: 'coffer_agent_datastore_up',
    help: '1 while the datastore runs and answers (ACTIVE or RESTART_REQUIRED), else 0',
    registers: register,
    collect() {
      this.set(agent.running ? 1 : 0);
    },
  });
  new Gauge({
    name: 'coffer_agent_datastore_state',
    help: 'The datastore\'s lifecycle state as the agent sees it: 1 for the current state, 0 for the others',
    labelNames: ['state'],
    registers: register,
    collect() {
      const now = agent.state.get().state;
      for (const s of STATES) this.set({ state: s }, s === now ? 1 : 0);
    },
  });
  new Counter({
    name: 'coffer_agent_datastore_restarts_total',
    help: 'Times the agent restarted its datastore after it died, since the agent started',
    registers: register,
    collect() {
      this.reset();
      this.inc(agent.supervisor.restartCount);
    },
  });
  new Gauge({
    name: 'coffer_agent_datastore_connections',
    help: 'Client connections open on the datastore (the agent\'s own included); 0 while it is not running or does not answer',
    registers: register,
    async collect() {
      const connections = agent.manager.connections;
      const n = agent.running && connections ? await withTimeout(connections.call(agent.manager), QUERY_TIMEOUT_MS).catch(() => 0) : 0;
      this.set(Number.isFinite(n) ? n : 0);
    },
  });

  // The volume holding the base dir, as GetStatus reports it: one statfs.
  const volume = perScrape(async (): Promise<StatsFs | null> => statfs(agent.layout.baseDir).catch(() => null));
  const volumeGauge = (name: string, help: string, value: (s: StatsFs) => number): void => {
    new Gauge({
      name,
      help,
      registers: register,
      async collect() {
        const s = await volume();
        this.set(s ? value(s) : 0);
      },
    });
  };
  volumeGauge('coffer_agent_volume_size_bytes', 'Size of the filesystem holding the instance\'s data', (s) => s.blocks * s.bsize);
  volumeGauge('coffer_agent_volume_used_bytes', 'Bytes used on that filesystem', (s) => (s.blocks - s.bfree) * s.bsize);
  volumeGauge('coffer_agent_volume_free_bytes', 'Bytes still available on that filesystem to the datastore (not counting root\'s reserve)', (s) => s.bavail * s.bsize);

  const backups = new Counter({
    name: 'coffer_agent_backups_total',
    help: 'Backups (CreateBackup and StreamBackup, replica snapshots included) that ended, by strategy, type and result',
    labelNames: ['strategy', 'type', 'result'],
    registers: register,
  });
  const backupSeconds = new Histogram({
    name: 'coffer_agent_backup_duration_seconds',
    help: 'How long backups took, from the request to the stored object, by strategy, type and result',
    labelNames: ['strategy', 'type', 'result'],
    buckets: BACKUP_BUCKETS,
    registers: register,
  });
  const backupBytes = new Counter({
    name: 'coffer_agent_backup_bytes_total',
    help: 'Bytes stored by successful backups (compressed and encrypted, as written), by strategy and type',
    labelNames: ['strategy', 'type'],
    registers: register,
  });
  const lastSuccess = new Gauge({
    name: 'coffer_agent_backup_last_success_timestamp_seconds',
    help: 'When the last successful backup ended (Unix time); 0 until one has, since the agent started',
    registers: register,
  });

  if (agent.manager.replication) addReplicationMetrics(agent, register);

  return {
    registry,
    observeBackup(o) {
      const labels = { strategy: o.strategy, type: o.type, result: o.result };
      backups.inc(labels);
      backupSeconds.observe(labels, o.seconds);
      if (o.result === 'success') {
        backupBytes.inc({ strategy: o.strategy, type: o.type }, o.storedBytes);
        lastSuccess.set(Date.now() / 1000);
      }
    },
  };
}

/** Role, fence and lag, from the status every heartbeat also reads (one query when the datastore runs). */
function addReplicationMetrics(agent: Agent, register: Registry[]): void {
  const status = perScrape(() => agent.replication.status().catch(() => null));
  new Gauge({
    name: 'coffer_agent_replication_role',
    help: 'The instance\'s replication role: 1 for the current one (standalone, source, replica), 0 for the others',
    labelNames: ['role'],
    registers: register,
    collect() {
      const now = agent.replication.role;
      for (const r of ROLES) this.set({ role: r }, r === now ? 1 : 0);
    },
  });
  new Gauge({
    name: 'coffer_agent_replication_fenced',
    help: '1 while this source refuses writes because it may no longer be the source, else 0',
    registers: register,
    async collect() {
      this.set((await status())?.fenced ? 1 : 0);
    },
  });
  // Labelled by the source followed, so that a series exists only while
  // there is a lag to report: not on a source or a standalone, not while
  // unknown (a label-less gauge would read 0, which means caught up).
  const lag = (name: string, help: string, value: (s: ReplicationStatus) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['source_instance_id'],
      registers: register,
      async collect() {
        this.reset();
        const s = await status();
        const v = s && s.role === 'replica' ? value(s) : -1;
        if (s && v >= 0) this.set({ source_instance_id: s.sourceInstanceId }, v);
      },
    });
  };
  lag('coffer_agent_replication_lag_seconds', 'A replica\'s lag in seconds as its datastore computes it (0 when idle and caught up); absent when not a replica or unknown', (s) => s.lagSeconds);
  lag('coffer_agent_replication_lag_bytes', 'A PostgreSQL or Redis replica\'s lag in bytes of its source\'s log; absent otherwise or when unknown', (s) => (TRANSACTION_DIALECTS.has(s.dialect) ? -1 : s.lagBytes));
  lag('coffer_agent_replication_lag_transactions', 'A MariaDB or MySQL replica\'s lag in transactions (GTIDs) not yet applied; absent otherwise or when unknown', (s) => (TRANSACTION_DIALECTS.has(s.dialect) ? s.lagBytes : -1));
}

/**
 * One read shared by the gauges of one scrape (prom-client collects them
 * concurrently), fresh for the next: kept for a second.
 */
function perScrape<T>(read: () => Promise<T>): () => Promise<T> {
  let cached: { at: number; value: Promise<T> } | null = null;
  return () => {
    const now = Date.now();
    if (!cached || now - cached.at > 1000) cached = { at: now, value: read() };
    return cached.value;
  };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
