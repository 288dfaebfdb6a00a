// What differs between datastores for the control's replication workflows,
// in one table: the workflows themselves are the same for all
// (docs/replication.md). Keyed by the agent manager (catalog's `manager`).
import type { ControlContext } from '../../context.js';
import type { InstanceRow } from '../../store/instances.js';
import type { SecretScope } from '../../replication-secret.js';
import { PermanentStepError } from '../../tasks/workflow.js';

export interface ReplicationTraits {
  /** Whose secret the replication account uses: per replica, or one for the deployment. */
  readonly secret: SecretScope;
  /**
   * Whether the replica snapshot can be incremental on the source's newest
   * backup (mariadb-backup can; a Redis RDB and pg_basebackup are always full).
   */
  readonly incrementalSnapshot: boolean;
  /**
   * How a replica is re-pointed at a new source: 'attach' (AttachReplica),
   * or 'demote' (DemoteSource: PostgreSQL's pg_rewind first, as a replica
   * may have received WAL from the old source past the point where the new
   * one was promoted, and then cannot follow it).
   */
  readonly repoint: 'attach' | 'demote';
  /**
   * What a new replica is built from: 'backup' (GetReplicaSnapshot takes
   * one snapshot backup for all of them, each Prepare restores it), or
   * 'clone' (AddReplicaAccess only, and each replica's Prepare copies the
   * running source itself, in one pass: PostgreSQL's pg_basebackup. An
   * older backup would be of no use to it without archived WAL to catch
   * up from, issue 18, so it would be a fresh full copy anyway).
   */
  readonly snapshot: 'backup' | 'clone';
  /**
   * A clone through the source agent's one-shot endpoint (MariaDB: the
   * source's mariadb-backup streamed over TLS into the replica's mbstream):
   * right before each replica's Prepare, AddReplicaAccess opens it with a
   * ticket generated then, at random, for that Prepare alone (never kept
   * in task data), and Prepare gets the port and ticket. Without it a
   * clone reaches the datastore itself (PostgreSQL's pg_basebackup).
   */
  readonly cloneEndpoint: boolean;
  /**
   * Whether the datastore replicates account changes itself (grant tables,
   * roles). Redis does not (its ACL users are each server's own): the
   * control relays a user change to every member of the set
   * (service/accounts.ts).
   */
  readonly replicatesAccounts: boolean;
}

export const REPLICATION_TRAITS: Readonly<Record<string, ReplicationTraits>> = {
  mariadb: { secret: 'replica', incrementalSnapshot: true, repoint: 'attach', snapshot: 'clone', cloneEndpoint: true, replicatesAccounts: true },
  // The mysql manager's physical tool (xtrabackup) is not packaged here:
  // its agent has no clone endpoint, and its snapshots are logical dumps.
  mysql: { secret: 'replica', incrementalSnapshot: true, repoint: 'attach', snapshot: 'backup', cloneEndpoint: false, replicatesAccounts: true },
  postgresql: { secret: 'deployment', incrementalSnapshot: false, repoint: 'demote', snapshot: 'clone', cloneEndpoint: false, replicatesAccounts: true },
  redis: { secret: 'deployment', incrementalSnapshot: false, repoint: 'attach', snapshot: 'backup', cloneEndpoint: false, replicatesAccounts: false },
};

/** The agent manager that runs an instance (its catalog version's). */
export function managerOf(c: ControlContext, row: InstanceRow): string {
  return c.catalog.version(row.datastore, row.datastore_version)?.manager ?? row.datastore;
}

/** The traits of the instance's datastore; a datastore without replication is refused by name. */
export function traitsOf(c: ControlContext, row: InstanceRow): ReplicationTraits {
  const m = managerOf(c, row);
  const t = Object.hasOwn(REPLICATION_TRAITS, m) ? REPLICATION_TRAITS[m] : undefined;
  if (!t) throw new PermanentStepError(`${row.datastore} has no replication`);
  return t;
}

/** A replica's replication secret, derived again wherever it is needed. */
export function replicaSecret(c: ControlContext, source: InstanceRow, replicaId: string): string {
  return c.replicationSecrets.secretFor(traitsOf(c, source).secret, replicaId);
}
