// Everything the services and workflows share, built once in server.ts and
// passed in (no module-level state).
import type { Logger } from '../lib/logger.js';
import type { Db } from './db/database.js';
import type { ControlEvents } from './events.js';
import type { CatalogStore } from './store/catalog.js';
import type { InstanceStore, InstanceRow } from './store/instances.js';
import type { BackupStore } from './store/backups.js';
import type { TaskStore } from './store/tasks.js';
import type { ClusterStore } from './store/clusters.js';
import type { ConfigurationStore } from './store/configurations.js';
import type { ComputeDriver, Allocation } from './compute/driver.js';
import type { CertificateAuthority } from './ca/authority.js';
import type { AgentConnector, AgentClients } from './agent-client.js';
import type { TaskEngine } from './tasks/engine.js';
import type { CompiledControlConfig } from './config.js';
import type { ReplicationSecrets } from './replication-secret.js';

export interface ControlContext {
  readonly config: CompiledControlConfig;
  readonly db: Db;
  readonly log: Logger;
  readonly events: ControlEvents;
  readonly catalog: CatalogStore;
  readonly instances: InstanceStore;
  readonly backups: BackupStore;
  readonly tasks: TaskStore;
  readonly clusters: ClusterStore;
  readonly configurations: ConfigurationStore;
  readonly driver: ComputeDriver;
  readonly ca: CertificateAuthority;
  readonly connector: AgentConnector;
  readonly engine: TaskEngine;
  /** Derives replication and cluster secrets (never stored). */
  readonly replicationSecrets: ReplicationSecrets;
}

export function allocationOf(row: InstanceRow): Allocation | null {
  return row.compute ? (JSON.parse(row.compute) as Allocation) : null;
}

/** Runs `fn` with clients for the instance's agent, closing them after. */
export async function withAgent<T>(ctx: ControlContext, row: InstanceRow, fn: (c: AgentClients) => Promise<T>): Promise<T> {
  const a = allocationOf(row);
  if (!a) throw new Error(`instance ${row.id} has no compute allocation yet`);
  const clients = ctx.connector.connect(row.id, a.agentAddress);
  try {
    return await fn(clients);
  } finally {
    clients.close();
  }
}
