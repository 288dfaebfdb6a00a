// What a datastore manager offers the agent. Lifecycle is required; every
// other capability is optional, and a missing one answers UNIMPLEMENTED
// naming it (`unimplemented` in agent/errors.ts, raised by the services).
import type { Logger } from '../../lib/logger.js';
import type { ProcessRunner } from '../../lib/process-runner.js';
import type { CompiledAgentConfig, DatastoreDefaults } from '../config.js';
import type { Layout } from '../layout.js';
import type { ChildSpec } from '../supervisor.js';
import type { Database, User, Page } from '../../proto/gen/coffer/agent/v1/common.js';
import type { Parameter, ParameterChange } from '../../proto/gen/coffer/agent/v1/configuration.js';
import type { BackupMetadata } from '../../proto/gen/coffer/agent/v1/backup.js';
import type { BackupRequest, BackupSource } from '../../strategies/backup/source.js';
import type { Readable } from 'node:stream';
import type { ReplicationStatus, SourceInfo } from '../../proto/gen/coffer/agent/v1/replication_state.js';
import type { ReplicaAccess } from '../../proto/gen/coffer/agent/v1/replication.js';
import type { ClusterMember, ClusterNodeStatus, RecoveryPosition } from '../../proto/gen/coffer/agent/v1/cluster.js';
import type { ProgressEvent } from '../lifecycle/context.js';
import type { DatastoreLog } from '../logs/log-table.js';
import type { OsUser } from '../../lib/os-user.js';
import type { ArchiveCapability } from '../archive/archive-datastore.js';

export type { BackupRequest, BackupSource };

export interface ManagerContext {
  readonly config: CompiledAgentConfig;
  readonly layout: Layout;
  readonly runner: ProcessRunner;
  readonly log: Logger;
}

/** What Prepare asks for, already decoded from the request. */
export interface PrepareInput {
  readonly rootPassword: string;
  readonly databases: readonly Database[];
  readonly users: readonly User[];
  readonly overrides: Readonly<Record<string, string>>;
}

export interface DatastoreManager {
  readonly name: string;
  readonly version: string;
  readonly accounts?: AccountsCapability;
  readonly configuration?: ConfigurationCapability;
  readonly backup?: BackupCapability;
  readonly replication?: ReplicationCapability;
  readonly cluster?: ClusterCapability;
  /** The datastore's logs (agent/logs/; the agent adds its own, guest). */
  readonly logs?: readonly DatastoreLog[];
  readonly console?: ConsoleCapability;
  /** Continuous archiving and restore to a point (agent/archive/, docs/pitr.md). */
  readonly archive?: ArchiveCapability;

  /** Throws INVALID_ARGUMENT for anything in the request that would fail later. */
  validatePrepare(input: PrepareInput): void;
  /** Renders the datastore's config file with the given overrides. */
  writeConfig(overrides: Readonly<Record<string, string>>): Promise<void>;
  /** Creates the data directory from nothing (wiping a failed earlier attempt). */
  initDataDir(signal: AbortSignal): Promise<void>;
  /**
   * Optional: readies an EMPTY data directory for a physical restore, in
   * place of initDataDir, start and secure, whose data the restore would
   * set aside and discard (Prepare from a backup). Only for a datastore
   * whose restored data carries everything the agent's account re-keying
   * (secure with fresh = false) needs.
   */
  emptyDataDir?(): Promise<void>;
  /** How the supervisor starts the datastore. */
  childSpec(): ChildSpec;
  /** True once the datastore answers. Never throws. */
  probe(): Promise<boolean>;
  /**
   * First start (fresh = true): the agent's own admin account and removal of
   * insecure defaults. After a restore (fresh = false): only (re)create the
   * agent's account, since the restored accounts are the backup's.
   */
  secure(signal: AbortSignal, fresh?: boolean): Promise<void>;
  /** Opens the agent's admin connection to a running, prepared datastore. */
  connect(): Promise<void>;
  /** Closes admin connections (before a stop). */
  disconnect(): Promise<void>;
  /** The version the running server reports. */
  serverVersion(): Promise<string>;
  /**
   * Optional: client connections open on the running server now (the
   * agent's own included), one cheap status query, for /metrics.
   */
  connections?(): Promise<number>;
}

export interface AccountsCapability {
  listDatabases(page: Page): Promise<{ databases: Database[]; nextMarker: string }>;
  createDatabases(databases: readonly Database[]): Promise<void>;
  deleteDatabase(name: string): Promise<void>;
  listUsers(page: Page): Promise<{ users: User[]; nextMarker: string }>;
  getUser(name: string, host: string): Promise<User>;
  createUsers(users: readonly User[]): Promise<void>;
  deleteUser(name: string, host: string): Promise<void>;
  updateUserAttributes(name: string, host: string, change: { newName: string; newHost: string; newPassword: string }): Promise<void>;
  changePasswords(users: readonly User[]): Promise<void>;
  grantAccess(name: string, host: string, databases: readonly string[]): Promise<void>;
  revokeAccess(name: string, host: string, database: string): Promise<void>;
  listAccess(name: string, host: string): Promise<Database[]>;
  enableRoot(password: string): Promise<{ user: User; password: string }>;
  disableRoot(): Promise<void>;
  isRootEnabled(): Promise<boolean>;
  /** Validation only, for Prepare: throws INVALID_ARGUMENT. */
  validateDatabase(db: Database): void;
  validateUser(user: User): void;
}

/** Who a console session logs in as, checked by the console core (agent/console/) first. */
export interface ConsoleLoginInput {
  /** The account's name; the datastore's root account when root is set. */
  readonly user: string;
  readonly password: string;
  readonly root: boolean;
  /** '' for the client's default. */
  readonly database: string;
}

/**
 * How to start the datastore's own client for a console session
 * (docs/console.md). The plan names no shell and puts the password only in
 * `env` (the client's own variable) or in a `secretFiles` entry (a 0600
 * file the core writes for the client's OS user and removes), never argv.
 */
export interface ConsolePlan {
  readonly argv: readonly string[];
  /** The client's own variables (history off, its password variable); the core adds TERM, HOME, PATH, LANG. */
  readonly env: Readonly<Record<string, string>>;
  /** Files in the session's directory holding a secret, by name. */
  readonly secretFiles: Readonly<Record<string, string>>;
  /**
   * The OS account the client runs as: 'session' (a uid of its own, made
   * for this session and owning nothing), or the datastore's account where
   * only it can reach the datastore's socket (Redis).
   */
  readonly osUser: 'session' | OsUser;
  /**
   * What the client prints when its login failed, for a client that then
   * carries on regardless (redis-cli stays at its prompt): seen in the
   * session's first output, it ends the session with status 1, the
   * client's message shown.
   */
  readonly failedLogin?: RegExp;
}

/** The console: the datastore's own client, logged in as a tenant's account. */
export interface ConsoleCapability {
  /** The agent's own account (refused by name), and the root account's name. */
  readonly adminUser: string;
  readonly rootUser: string;
  /** Throws INVALID_ARGUMENT for a name the datastore would never accept; `dir` is the session's directory. */
  plan(login: ConsoleLoginInput, dir: string): Promise<ConsolePlan>;
}

export interface ConfigurationCapability {
  /** Validates overrides against the version's rules; throws INVALID_ARGUMENT naming the first bad one. */
  validate(overrides: Readonly<Record<string, string>>): void;
  current(): Promise<Record<string, string>>;
  overrides(): Record<string, string>;
  update(overrides: Readonly<Record<string, string>>, replace: boolean): Promise<{ changes: ParameterChange[]; restartRequired: boolean }>;
  reset(): Promise<{ changes: ParameterChange[]; restartRequired: boolean }>;
  parameters(): Parameter[];
}

/** A datastore the registry knows: its defaults and how to build its manager. */
export interface ManagerFactory extends DatastoreDefaults {
  create(ctx: ManagerContext): DatastoreManager;
}

/**
 * Backups of one datastore. The agent wraps the source in the pipeline
 * (compression, encryption, checksum, storage); the capability only knows
 * its tool's raw format.
 */
export interface BackupCapability {
  readonly defaultStrategy: string;
  readonly strategies: readonly string[];
  /**
   * Strategies whose restore replays into the RUNNING datastore (logical
   * dumps through the client). The others restore into a stopped datastore
   * whose data directory the agent has set aside.
   */
  readonly requiresRunning?: Readonly<Record<string, boolean>>;
  /** The checks restore() makes first, run by the agent before it stops anything. */
  validateRestore?(chain: readonly BackupMetadata[]): void;
  /** Starts the tool against the running datastore. Throws INVALID_ARGUMENT for an unknown strategy or an impossible request. */
  source(req: BackupRequest): Promise<BackupSource>;
  /**
   * Restores a chain, parent first, into a stopped datastore whose data
   * directory the agent has emptied. `open(i)` yields the raw (decrypted,
   * decompressed, verified) bytes of chain element i. After this resolves,
   * the agent starts the datastore.
   */
  restore(chain: readonly BackupMetadata[], open: (index: number) => Promise<Readable>, signal: AbortSignal): Promise<void>;
}

/** How far a clone from the source has got (bytesTotal 0 while unknown). */
export interface CloneProgress {
  readonly bytesDone: number;
  readonly bytesTotal: number;
}

/** Stopping and starting the datastore, lent to a capability by the agent (the supervisor stays the agent's). */
export interface DatastoreControl {
  stop(signal: AbortSignal): Promise<void>;
  start(signal: AbortSignal): Promise<void>;
}

/**
 * Replication of one datastore: the local steps. The agent's core
 * (agent/replication/) owns the role, its persistence, fencing and the
 * snapshot backup; the control owns the order of steps across instances.
 * Every method is idempotent: called again after a crash it finds its work
 * done. Secrets reach the datastore over the admin connection or a 0600
 * file, never argv or a log.
 */
export interface ReplicationCapability {
  /** The dialect in use, detected from the server where it matters (mariadb-gtid, mysql-gtid, pg-streaming, redis). */
  dialect(): Promise<string>;
  /**
   * True when the datastore's backups are full only (Redis's RDB): the
   * snapshot for replicas is then full even when the control names a parent.
   */
  readonly fullSnapshotsOnly?: boolean;
  /**
   * On a running source: each replica's account (and PostgreSQL slot),
   * created or given the new secret. Returns user and slot per replica,
   * same order; host, port and position empty.
   */
  addReplicaAccess(replicas: readonly ReplicaAccess[]): Promise<SourceInfo[]>;
  /** On a running source: drops the replica's account and slot (absent is fine). */
  removeReplicaAccess(replicaId: string): Promise<void>;
  /** The position a replica restored from this snapshot backup starts at. */
  snapshotPosition(meta: BackupMetadata): string;
  /**
   * After a restore or a clone, datastore stopped, before its first start: whatever
   * makes it start as a replica and never write a transaction of its own
   * (PostgreSQL: standby.signal and primary_conninfo).
   */
  configureBeforeStart(source: SourceInfo): Promise<void>;
  /**
   * Prepare with replica_of and no restore, in place of initialising an
   * empty data directory: the data directory becomes a copy of the running
   * source, taken straight from it over the replica's own access
   * (PostgreSQL: pg_basebackup over the replica's slot), in one pass and
   * with no stored snapshot. The datastore is stopped. The copy is made
   * aside and moved in only once complete, so a failed or killed clone
   * leaves no half data directory. Then configureBeforeStart runs, as after
   * a restore. Absent: the datastore's replicas are built from a snapshot
   * backup only.
   */
  cloneFromSource?(source: SourceInfo, onProgress: (p: CloneProgress) => void, signal: AbortSignal): Promise<void>;
  /**
   * Cloning through the source's one-shot endpoint (agent/replication/
   * clone-endpoint.ts): the physical backup strategy the source streams
   * (its backup capability's source) and the replica restores (its
   * restore, into an empty data directory) in one pass, and the tool's
   * name for messages (MariaDB: mariabackup, mariadb-backup). The position
   * a copy ends at is snapshotPosition of what the tool recorded. Absent:
   * no endpoint (PostgreSQL clones with cloneFromSource; the mysql manager
   * has no physical tool here).
   */
  readonly cloneByEndpoint?: { readonly strategy: string; readonly tool: string };
  /** Running: follow the source, over TLS verified against the deployment's CA, and refuse writes. Re-points a replica. */
  attach(source: SourceInfo, signal: AbortSignal): Promise<void>;
  /** Running replica: stop following for good; standalone and writable. */
  detach(signal: AbortSignal): Promise<void>;
  /** Running replica: promote (stop following, take writes); resolves once writable. */
  promote(signal: AbortSignal): Promise<void>;
  /**
   * A former source (running or stopped) becomes a replica of the new
   * source (PostgreSQL: stop, pg_rewind, standby, start). Returns what it
   * had that the new source never received ('' when nothing).
   */
  demote(source: SourceInfo, ds: DatastoreControl, signal: AbortSignal): Promise<{ diverged: string }>;
  /**
   * Refuses (true) or accepts (false) writes from every client, the
   * datastore's superuser included. Works running or stopped: the state is
   * kept so the next start honours it before any client connects. The
   * agent calls it at boot for a source (true, datastore stopped), on
   * verdicts and MakeReadOnly, and with false right after promote() and
   * detach() to lift a fence kept from earlier; it never calls it with
   * false on a replica.
   */
  setReadOnly(readOnly: boolean): Promise<void>;
  /** This instance's latest transaction id (applied, on a replica). */
  latestTransactionId(): Promise<string>;
  /** True when `current` includes `target` (compared as the datastore orders them). Throws INVALID_ARGUMENT for a malformed id. */
  reached(target: string, current: string): boolean;
  /** Lag, stream state and errors as the datastore reports them (role and fencing are filled in by the agent). */
  status(): Promise<Omit<ReplicationStatus, 'role' | 'fenced'>>;
}

/** One member's place in its cluster, as the core (agent/cluster/) keeps it: no secret. */
export interface ClusterPlan {
  readonly strategy: string;
  readonly clusterId: string;
  readonly members: readonly ClusterMember[];
  /** This instance, found in `members` by the agent's instance id. */
  readonly self: ClusterMember;
}

/**
 * Clustering of one datastore: the local steps. The agent's core
 * (agent/cluster/) validates requests, keeps the member list
 * (<agentDir>/cluster.json), starts and stops the datastore, waits for the
 * node to serve and applies the recovery rule (never bootstrap from a node
 * that is behind); the control owns the order across members. Secrets
 * reach the datastore through 0600 files or the admin connection, never
 * argv or a log.
 */
export interface ClusterCapability {
  /** The strategies this datastore implements (galera; redis-cluster). */
  readonly strategies: readonly string[];
  /** The cluster_ports every member must name, per strategy (galera: gmcast, ist, sst). */
  requiredPorts(strategy: string): readonly string[];
  /** The cluster port a running member listens on, which the core probes at boot to tell a lone crash from a full outage (galera: gmcast). */
  peerPort(strategy: string): string;
  /** The secrets InstallCluster must carry, per strategy (galera: sst). */
  requiredSecrets(strategy: string): readonly string[];
  /**
   * The longest cluster id the strategy can carry, when shorter than the
   * core's 64 (galera: 32, the most its group communication carries of
   * wsrep_cluster_name: a longer one fails every joiner's handshake).
   */
  maxClusterIdLength?(strategy: string): number;
  /**
   * Datastore stopped: renders the member's cluster settings and stores its
   * secrets (0600, readable by the datastore's user only). `bootstrap`: the
   * next start, and only it, creates a new cluster from this node's data.
   */
  configure(plan: ClusterPlan, secrets: Readonly<Record<string, string>>, bootstrap: boolean): Promise<void>;
  /**
   * Running bootstrap node, once it serves: what the joiners need from the
   * cluster (Galera: the state-transfer account, replicated to every joiner
   * by their SST). Idempotent.
   */
  afterBootstrap(plan: ClusterPlan, secrets: Readonly<Record<string, string>>): Promise<void>;
  /** Drops the one-time bootstrap flag (the next start joins like any other member). */
  clearBootstrap(): Promise<void>;
  /** True when a start would bootstrap (the flag is set). */
  bootstrapPending(): boolean;
  /**
   * Running or not: the member list changed (grow, shrink). Rewrites the
   * setting that names the members, without disturbing a running node
   * (Galera: wsrep_cluster_address in the option file, read at the next
   * start; the running node learns members from the cluster's view).
   */
  setMembers(plan: ClusterPlan, running: boolean, signal: AbortSignal): Promise<void>;
  /** The node's view. Never throws: running false when the datastore does not answer. */
  nodeStatus(): Promise<ClusterNodeStatus>;
  /** True once the node serves as a full member (Galera: primary, Synced, ready). */
  serving(status: ClusterNodeStatus): boolean;
  /** Datastore stopped: where its committed history ends (Galera: grastate.dat, else --wsrep-recover). */
  recoveryPosition(signal: AbortSignal): Promise<Omit<RecoveryPosition, 'instanceId'>>;
  /** Datastore stopped: this node is the one to start the cluster anew from (Galera: safe_to_bootstrap: 1, here only). */
  markSafeToBootstrap(): Promise<void>;
  /** Leaves the cluster's settings (after a shrink): the datastore starts standalone next time. */
  deconfigure(): Promise<void>;
  /**
   * Set when the datastore's cluster recovers from a full outage on its own
   * (Redis Cluster: every node restarts from its nodes.conf): why. Then the
   * agent never holds a member's datastore at boot, and GetRecoveryPosition
   * and RecoverCluster answer UNIMPLEMENTED with this text.
   */
  readonly selfRecovering?: string;
  /**
   * Running member, after its start in InstallCluster (and when InstallCluster
   * is called again on a serving member): what makes it a member beyond its
   * own settings (Redis Cluster: its cluster account, MEET, and the cluster
   * formed or rebalanced once every listed member answers). Idempotent.
   */
  join?(plan: ClusterPlan, secrets: Readonly<Record<string, string>>, emit: (p: ProgressEvent) => void, signal: AbortSignal): Promise<void>;
  /** CompleteCluster, beyond the bootstrap flag (Redis Cluster: forms the cluster if no install could, and waits until it serves). */
  complete?(plan: ClusterPlan, signal: AbortSignal): Promise<void>;
  /**
   * LeaveCluster, before the datastore stops (Redis Cluster: the node's
   * slots migrated to the others, then the others forget it). Idempotent.
   */
  beforeLeave?(plan: ClusterPlan, running: boolean, signal: AbortSignal): Promise<void>;
}
