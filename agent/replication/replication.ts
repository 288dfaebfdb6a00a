// The agent's replication core, wired to its datastore's capability: the
// role (role-store.ts), the source lease (fencing.ts), the snapshot
// (snapshot.ts), waits (wait-for-transaction.ts) and status
// (replication-status.ts). Every step that changes the datastore runs under
// the agent's lock (BUSY while another operation runs); reads need none.
// The gRPC glue is services/replication-service.ts.
import type { Logger } from '../../lib/logger.js';
import type { BackupArtifact } from '../../proto/gen/coffer/agent/v1/backup.js';
import type { GetReplicaSnapshotRequest, ReplicaAccess, ReplicaSnapshot } from '../../proto/gen/coffer/agent/v1/replication.js';
import type { ReplicationStatus, SourceInfo } from '../../proto/gen/coffer/agent/v1/replication_state.js';
import type { SourceVerdict } from '../../proto/gen/coffer/control/v1/conductor.js';
import type { BackupProgress, CreateBackupInput } from '../backup/backups.js';
import { AgentError, unimplemented } from '../errors.js';
import type { BackupCapability, CloneProgress, DatastoreControl, ReplicationCapability } from '../managers/manager.js';
import type { ProcessRunner } from '../../lib/process-runner.js';
import type { Operations } from '../operations.js';
import { BackupMetadata } from '../../proto/gen/coffer/agent/v1/backup.js';
import { CloneEndpoints } from './clone-endpoint.js';
import { cloneThroughEndpoint } from './clone-replica.js';
import { SourceFence } from './fencing.js';
import { replicationStatus } from './replication-status.js';
import { roleFile, RoleStore, type Role } from './role-store.js';
import { replicaSnapshot } from './snapshot.js';
import { checkReplicaAccess, checkReplicaId, checkSource } from './validate.js';
import { waitForTransaction, type WaitResult } from './wait-for-transaction.js';

export interface ReplicationDeps {
  readonly capability: ReplicationCapability | undefined;
  readonly datastore: string;
  readonly agentDir: string;
  /** The backup strategy a snapshot uses (the datastore's default, physical where it has one). */
  readonly snapshotStrategy: string;
  /** The agent's lock: one operation at a time. */
  readonly locked: <T>(what: string, fn: () => Promise<T>) => Promise<T>;
  /** Throws NOT_READY unless the datastore runs. */
  readonly requireRunning: (what: string) => void;
  /** Throws NOT_READY unless Prepare has finished. */
  readonly requirePrepared: (what: string) => void;
  readonly running: () => boolean;
  /** Stop and start, with the states a caller sees meanwhile (for DemoteSource). */
  readonly datastoreControl: DatastoreControl;
  readonly log: Logger;
  /** What a clone through an endpoint needs (a capability with cloneByEndpoint): both sides. */
  readonly clone?: CloneDeps;
}

export interface CloneDeps {
  readonly runner: ProcessRunner;
  /** The datastore's address: a source's endpoints listen there. */
  readonly bind: string;
  /** The datastore's serving pair; null: this agent serves no endpoint. */
  readonly tls: Readonly<{ cert: string; key: string }> | null;
  /** The deployment CA a replica checks its source's endpoint against. */
  readonly ca: string | null;
  readonly backup: BackupCapability | undefined;
  /** Empties the stopped data directory before a replica's copy goes in. */
  readonly emptyDataDir: (() => Promise<void>) | undefined;
  /** The agent's running operations: a copy a source serves is one (listed, cancellable). */
  readonly operations: Pick<Operations, 'begin' | 'end'>;
}

/** What Prepare with replica_of runs around its restore or clone (lifecycle/prepare.ts). */
export interface ReplicaPrepare {
  /**
   * Without a restore: the data directory copied straight from the source
   * (the capability's cloneFromSource), in place of initialising one.
   * Undefined where the datastore cannot clone (validatePrepare refused that).
   */
  readonly clone?: (onProgress: (p: CloneProgress) => void, signal: AbortSignal) => Promise<void>;
  /** After the restore or clone, before the datastore's first start. */
  beforeStart(): Promise<void>;
  /** Once it runs and is secured: follow the source; the role becomes replica. */
  attach(signal: AbortSignal): Promise<void>;
}

const notRole = (what: string, role: Role, hint: string): AgentError =>
  new AgentError('AGENT_ERR_NOT_READY', `cannot ${what}: this instance is ${role === 'standalone' ? 'a standalone' : `a ${role}`}; ${hint}`);

export class Replication {
  readonly roles: RoleStore;
  readonly fence: SourceFence;
  /** A source's one-shot clone endpoints, where the datastore clones that way and has its serving pair. */
  private readonly endpoints: CloneEndpoints | undefined;

  constructor(private readonly deps: ReplicationDeps) {
    this.roles = new RoleStore(roleFile(deps.agentDir));
    this.fence = new SourceFence({ roles: this.roles, capability: deps.capability, log: deps.log });
    const how = deps.capability?.cloneByEndpoint;
    const clone = deps.clone;
    const backup = clone?.backup;
    if (how && clone?.tls && backup) {
      const cap = deps.capability!;
      this.endpoints = new CloneEndpoints({
        bind: clone.bind,
        tls: clone.tls,
        runner: clone.runner,
        operations: clone.operations,
        log: deps.log.child({ component: 'clone-endpoint' }),
        startCopy: async (signal) => {
          const src = await backup.source({ strategy: how.strategy, type: 'full', signal });
          const done = src.done.then((m) => ({ position: cap.snapshotPosition(BackupMetadata.fromPartial({ ...m, backupId: m.backupId || 'clone' })) }));
          // The tool may fail while the endpoint still sends what it read
          // (its caller awaits `done` after): never an unhandled rejection,
          // which would end the agent.
          done.catch(() => undefined);
          return { tool: how.tool, stream: src.stream, done };
        },
      });
    }
  }

  /** Closes every clone endpoint (the agent stops). */
  closeEndpoints(): void {
    this.endpoints?.closeAll();
  }

  /** The capability, or UNIMPLEMENTED naming it. */
  capability(): ReplicationCapability {
    const c = this.deps.capability;
    if (!c) throw unimplemented('replication', this.deps.datastore);
    return c;
  }

  get role(): Role {
    return this.roles.get().role;
  }

  status(): Promise<ReplicationStatus> {
    return replicationStatus(this.roles.get(), this.deps.capability, this.deps.running());
  }

  onVerdict(verdict: SourceVerdict, leaseMs: number, sentAtMs: number): Promise<void> {
    return this.fence.onVerdict(verdict, leaseMs, sentAtMs);
  }

  /** Checks for Prepare with replica_of, before anything changes. */
  validatePrepare(source: SourceInfo, fromBackup: boolean, accounts: { databases: number; users: number; rootPassword: boolean }): void {
    const cap = this.capability();
    checkSource(source, 'replica_of');
    // Without a restore the replica is cloned from the running source,
    // which only some datastores can do (PostgreSQL: pg_basebackup).
    if (!fromBackup && !cap.cloneFromSource && !(cap.cloneByEndpoint && source.clonePort)) {
      throw new AgentError('AGENT_ERR_INVALID_ARGUMENT', `replica_of needs restore: a ${this.deps.datastore} replica is built from its source's snapshot backup (it cannot be cloned straight from the source)`);
    }
    if (accounts.databases || accounts.users || accounts.rootPassword) {
      throw new AgentError('AGENT_ERR_INVALID_ARGUMENT', 'a replica takes its source\'s databases and users: give no databases, users or root_password with replica_of');
    }
  }

  /** Prepare's hooks for a replica; Prepare holds the lock. */
  replicaPrepare(given: SourceInfo): ReplicaPrepare {
    const cap = this.capability();
    // A copy through the source's endpoint says where it ends: the replica starts there.
    let source = given;
    const byEndpoint = cap.cloneByEndpoint && given.clonePort ? cap.cloneByEndpoint : undefined;
    const cloneDeps = this.deps.clone;
    let clone: ReplicaPrepare['clone'];
    if (byEndpoint) {
      if (!cloneDeps?.backup || !cloneDeps.emptyDataDir) throw new AgentError('AGENT_ERR_INTERNAL', `the ${this.deps.datastore} manager offers cloning without a backup capability`);
      const d = { backup: cloneDeps.backup, emptyDataDir: cloneDeps.emptyDataDir, strategy: byEndpoint.strategy, ca: cloneDeps.ca, runner: cloneDeps.runner, log: this.deps.log };
      clone = async (onProgress, signal) => {
        const position = await cloneThroughEndpoint(d, given, onProgress, signal);
        source = { ...given, position };
      };
    } else if (cap.cloneFromSource) {
      const fn = cap.cloneFromSource.bind(cap);
      clone = (onProgress: (p: CloneProgress) => void, signal: AbortSignal) => fn(given, onProgress, signal);
    }
    return {
      ...(clone ? { clone } : {}),
      beforeStart: () => cap.configureBeforeStart(source),
      attach: async (signal) => {
        await cap.attach(source, signal);
        this.becomeReplica(source);
      },
    };
  }

  snapshot(
    req: GetReplicaSnapshotRequest,
    createBackup: (input: CreateBackupInput, onProgress: (p: BackupProgress) => void, signal: AbortSignal) => Promise<BackupArtifact>,
    onProgress: (p: BackupProgress) => void,
    signal: AbortSignal,
  ): Promise<ReplicaSnapshot> {
    const cap = this.capability();
    checkReplicaAccess(req.replicas);
    return this.deps.locked('GetReplicaSnapshot', async () => {
      this.sourceable('take a snapshot for replicas');
      const snap = await replicaSnapshot({ capability: cap, createBackup, fullOnly: !!cap.fullSnapshotsOnly, strategy: this.deps.snapshotStrategy }, req, onProgress, signal);
      this.becomeSource();
      return snap;
    });
  }

  addReplicaAccess(replicas: readonly ReplicaAccess[]): Promise<SourceInfo[]> {
    const cap = this.capability();
    checkReplicaAccess(replicas);
    const endpoints = this.endpoints;
    if (replicas.some((r) => r.cloneTicket) && !endpoints) {
      throw new AgentError(
        'AGENT_ERR_INVALID_ARGUMENT',
        cap.cloneByEndpoint
          ? 'clone_ticket: this source has no datastore serving certificate to serve a clone endpoint with (the agent runs without --datastore-tls-cert)'
          : `clone_ticket: a ${this.deps.datastore} source opens no clone endpoint; build its replicas from a snapshot (GetReplicaSnapshot)`,
      );
    }
    return this.deps.locked('AddReplicaAccess', async () => {
      this.sourceable('give replicas access');
      const sources = await cap.addReplicaAccess(replicas);
      this.becomeSource();
      const out: SourceInfo[] = [];
      for (const [i, s] of sources.entries()) {
        const r = replicas[i]!;
        const clonePort = r.cloneTicket && endpoints ? await endpoints.openFor(r.replicaId, r.cloneTicket, r.cloneTtlSeconds ?? 0) : 0;
        out.push({ ...s, host: '', port: 0, position: '', ...(clonePort ? { clonePort } : {}) });
      }
      return out;
    });
  }

  removeReplicaAccess(replicaId: string): Promise<void> {
    const cap = this.capability();
    checkReplicaId(replicaId);
    return this.deps.locked('RemoveReplicaAccess', async () => {
      this.deps.requireRunning('remove a replica\'s access');
      if (this.role === 'replica') throw notRole('remove a replica\'s access', 'replica', 'replicas have no replicas of their own');
      this.endpoints?.close(replicaId, 'access removed');
      await cap.removeReplicaAccess(replicaId);
    });
  }

  attach(sourceIn: SourceInfo | undefined, signal: AbortSignal): Promise<ReplicationStatus> {
    const cap = this.capability();
    const source = checkSource(sourceIn, 'source');
    return this.deps.locked('AttachReplica', async () => {
      this.deps.requireRunning('attach as a replica');
      if (this.role === 'source') throw notRole('attach as a replica', 'source', 'a source is turned into a replica with DemoteSource');
      await cap.attach(source, signal);
      this.becomeReplica(source);
      return this.status();
    });
  }

  detach(signal: AbortSignal): Promise<ReplicationStatus> {
    const cap = this.capability();
    return this.deps.locked('DetachReplica', async () => {
      const role = this.role;
      // Asked again after it succeeded: the work is done.
      if (role === 'standalone') return this.status();
      if (role === 'source') throw notRole('detach', 'source', 'only a replica can be detached');
      this.deps.requireRunning('detach');
      await cap.detach(signal);
      this.roles.update({ role: 'standalone', source: null, fenced: null, readOnly: false });
      this.fence.reset();
      await this.fence.apply(true);
      this.deps.log.info('detached: standalone and writable');
      return this.status();
    });
  }

  makeReadOnly(readOnly: boolean): Promise<string> {
    const cap = this.capability();
    return this.deps.locked('MakeReadOnly', async () => {
      this.deps.requirePrepared('change read-only');
      if (!readOnly && this.role === 'replica') throw notRole('accept writes', 'replica', 'a replica refuses writes while it follows its source: detach or promote it');
      this.roles.update({ readOnly });
      await this.fence.apply(true);
      this.deps.log.info({ readOnly, fenced: this.roles.get().fenced }, readOnly ? 'refusing writes on request' : 'accepting writes again on request');
      return this.deps.running() ? cap.latestTransactionId() : '';
    });
  }

  enableAsSource(signal: AbortSignal): Promise<string> {
    const cap = this.capability();
    return this.deps.locked('EnableAsSource', async () => {
      const role = this.role;
      if (role === 'standalone') throw notRole('promote', 'standalone', 'only a replica can be promoted to source');
      this.deps.requireRunning('promote');
      // Asked again after it succeeded: a source already (a fence stays).
      if (role === 'source') return cap.latestTransactionId();
      await cap.promote(signal);
      this.roles.update({ role: 'source', source: null, fenced: null, readOnly: false });
      this.fence.reset();
      await this.fence.apply(true);
      this.deps.log.info('promoted: this instance is the source');
      return cap.latestTransactionId();
    });
  }

  demote(sourceIn: SourceInfo | undefined, signal: AbortSignal): Promise<{ status: ReplicationStatus; diverged: string }> {
    const cap = this.capability();
    const source = checkSource(sourceIn, 'source');
    return this.deps.locked('DemoteSource', async () => {
      this.deps.requirePrepared('demote');
      if (this.role === 'standalone') throw notRole('demote', 'standalone', 'a standalone is made a replica with AttachReplica');
      const { diverged } = await cap.demote(source, this.deps.datastoreControl, signal);
      if (diverged) this.deps.log.warn({ diverged }, 'transactions this instance had that the new source never received');
      this.becomeReplica(source);
      return { status: await this.status(), diverged };
    });
  }

  latestTransactionId(): Promise<string> {
    const cap = this.capability();
    this.deps.requireRunning('read the latest transaction id');
    return cap.latestTransactionId();
  }

  waitForTransaction(target: string, timeoutSeconds: number, signal: AbortSignal): Promise<WaitResult> {
    const cap = this.capability();
    this.deps.requireRunning('wait for a transaction');
    return waitForTransaction(cap, target, timeoutSeconds, signal);
  }

  /** Only a running source or standalone hands out access to itself. */
  private sourceable(what: string): void {
    this.deps.requireRunning(what);
    if (this.role === 'replica') throw notRole(what, 'replica', 'promote it first (replicas of replicas are not supported)');
  }

  private becomeSource(): void {
    if (this.role === 'source') return;
    this.roles.update({ role: 'source', source: null, fenced: null });
    this.fence.reset();
    this.deps.log.info('this instance is now a replication source');
  }

  private becomeReplica(source: SourceInfo): void {
    this.roles.update({ role: 'replica', source: { instanceId: source.instanceId, host: source.host, port: source.port }, fenced: null, readOnly: false });
    this.fence.reset();
    this.deps.log.info({ source: `${source.host}:${source.port}`, sourceInstanceId: source.instanceId }, 'this instance is now a replica');
  }
}
