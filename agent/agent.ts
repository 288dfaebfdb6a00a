// The agent: its datastore's persisted state, supervisor, lock and running
// operations, wired to the lifecycle steps in lifecycle/. The gRPC services
// call into this; nothing here knows about gRPC.
import type { Logger } from '../lib/logger.js';
import type { ProcessRunner } from '../lib/process-runner.js';
import type { CompiledAgentConfig } from './config.js';
import type { Layout } from './layout.js';
import type { DatastoreManager } from './managers/manager.js';
import { AgentError } from './errors.js';
import { OperationLock } from './lock.js';
import { Operations, type RunningOperation } from './operations.js';
import { StateStore, type LifecycleState } from './state.js';
import { Supervisor } from './supervisor.js';
import { statusOf, type AgentStatus } from './status.js';
import type { LifecycleContext, ProgressEvent } from './lifecycle/context.js';
import { crashCallbacks, recoverAtBoot } from './lifecycle/crash-recovery.js';
import { runPrepare, validatePrepare, type PrepareFromBackup, type PrepareRequestInput } from './lifecycle/prepare.js';
import { restorePrepared, type RestorePlan } from './lifecycle/restore-swap.js';
import { startDatastore, stopDatastore } from './lifecycle/start-stop.js';
import { Replication } from './replication/replication.js';
import { Cluster } from './cluster/cluster.js';
import type { DataVolume } from './lifecycle/data-volume.js';
import type { ClusterContext } from '../proto/gen/coffer/agent/v1/cluster.js';
import type { ReplicationStatus, SourceInfo } from '../proto/gen/coffer/agent/v1/replication_state.js';

export { AGENT_VERSION } from './status.js';
export type { ProgressEvent } from './lifecycle/context.js';

export interface AgentDeps {
  readonly config: CompiledAgentConfig;
  readonly layout: Layout;
  readonly manager: DatastoreManager;
  readonly runner: ProcessRunner;
  readonly log: Logger;
  /** The instance's own data disk (main.ts mounted it, if it has a filesystem, before this was built). */
  readonly volume?: DataVolume;
  /** Test seam: restart delays of the supervisor. */
  readonly backoffMs?: readonly number[];
}

export class Agent {
  readonly state: StateStore;
  readonly operations = new Operations();
  readonly supervisor: Supervisor;
  readonly replication: Replication;
  readonly cluster: Cluster;
  private readonly lock = new OperationLock();
  private readonly ctx: LifecycleContext;
  private readonly startedAtMs = Date.now();

  constructor(private readonly deps: AgentDeps) {
    this.state = new StateStore(deps.layout.stateFile);
    this.supervisor = new Supervisor({
      runner: deps.runner,
      log: deps.log,
      pidFile: deps.layout.pidFile,
      spec: () => deps.manager.childSpec(),
      probe: () => deps.manager.probe(),
      backoffMs: deps.backoffMs,
      ...crashCallbacks(() => this.ctx),
    });
    this.ctx = { manager: deps.manager, supervisor: this.supervisor, state: this.state, layout: deps.layout, log: deps.log, volume: deps.volume };
    this.replication = new Replication({
      capability: deps.manager.replication,
      datastore: deps.manager.name,
      agentDir: deps.layout.agentDir,
      snapshotStrategy: deps.manager.backup?.defaultStrategy ?? '',
      locked: (what, fn) => this.lock.run(what, fn),
      requireRunning: (what) => this.requireRunning(what),
      requirePrepared: (what) => this.requirePrepared(what),
      running: () => this.running,
      datastoreControl: {
        stop: async () => stopDatastore(this.ctx, true),
        start: async () => startDatastore(this.ctx),
      },
      log: deps.log.child({ component: 'replication' }),
      clone: {
        runner: deps.runner,
        bind: deps.config.datastoreBind,
        tls: deps.config.datastoreTls,
        ca: deps.config.datastoreCa,
        backup: deps.manager.backup,
        emptyDataDir: deps.manager.emptyDataDir?.bind(deps.manager),
        operations: this.operations,
      },
    });
    this.cluster = new Cluster({
      capability: deps.manager.cluster,
      datastore: deps.manager.name,
      instanceId: deps.config.instanceId,
      agentDir: deps.layout.agentDir,
      locked: (what, fn) => this.lock.run(what, fn),
      requirePrepared: (what) => this.requirePrepared(what),
      running: () => this.running,
      datastoreControl: {
        stop: async () => stopDatastore(this.ctx, true),
        start: async () => startDatastore(this.ctx),
      },
      ensureOwnAccount: () => deps.manager.connect(),
      log: deps.log.child({ component: 'cluster' }),
    });
  }

  /** The datastore runs and answers (ACTIVE, or waiting for a restart). */
  get running(): boolean {
    const { state } = this.state.get();
    return this.supervisor.running && (state === 'ACTIVE' || state === 'RESTART_REQUIRED');
  }

  get manager(): DatastoreManager {
    return this.deps.manager;
  }

  get layout(): Layout {
    return this.deps.layout;
  }

  get config(): CompiledAgentConfig {
    return this.deps.config;
  }

  /** At agent start: clear what an earlier run left, and bring the datastore back if it should run. */
  boot(): Promise<void> {
    // A source comes back refusing writes until the control confirms it:
    // marked now, before any call is served, and told to the datastore
    // before it starts.
    this.replication.fence.markBoot();
    return recoverAtBoot(
      this.ctx,
      this.lock,
      () => this.replication.fence.beforeStart(),
      () => this.replication.fence.afterStart(),
      () => this.cluster.holdAtBoot(),
    );
  }

  /** Throws unless the datastore runs (account and configuration calls need it). */
  requireRunning(what: string): void {
    const { state, reason } = this.state.get();
    if (state !== 'ACTIVE' && state !== 'RESTART_REQUIRED') {
      throw new AgentError('AGENT_ERR_NOT_READY', `cannot ${what}: the datastore is ${state}${reason ? ` (${reason})` : ''}`);
    }
  }

  private requirePrepared(what: string): void {
    if (!this.state.get().prepared) throw new AgentError('AGENT_ERR_NOT_READY', `cannot ${what}: the instance is not prepared yet (run Prepare)`);
  }

  /**
   * Prepare, from nothing or from a backup (lifecycle/prepare.ts): a bad
   * request is refused before anything changes; the rest runs under the
   * lock, BUILDING until it has ended.
   */
  async prepare(input: PrepareRequestInput, emit: (p: ProgressEvent) => void, op: RunningOperation, fromBackup?: PrepareFromBackup, replicaOf?: SourceInfo): Promise<void> {
    validatePrepare(this.ctx, input, !!fromBackup);
    if (replicaOf) {
      this.replication.validatePrepare(replicaOf, !!fromBackup, { databases: input.databases.length, users: input.users.length, rootPassword: !!input.rootPassword });
    }
    await this.lock.run('Prepare', async () => {
      // A failed earlier Prepare may have left a role: Prepare starts from nothing.
      if (this.replication.role !== 'standalone' || this.replication.roles.get().readOnly) {
        this.replication.roles.update({ role: 'standalone', source: null, fenced: null, readOnly: false });
      }
      await runPrepare(this.ctx, input, emit, op, fromBackup, replicaOf ? this.replication.replicaPrepare(replicaOf) : undefined);
    });
  }

  start(): Promise<LifecycleState> {
    return this.lock.run('Start', async () => {
      this.requirePrepared('start');
      if (!this.supervisor.running) await startDatastore(this.ctx);
      return this.state.get().state;
    });
  }

  stop(): Promise<LifecycleState> {
    return this.lock.run('Stop', async () => {
      this.requirePrepared('stop');
      await stopDatastore(this.ctx, false);
      return this.state.get().state;
    });
  }

  restart(): Promise<LifecycleState> {
    return this.lock.run('Restart', async () => {
      this.requirePrepared('restart');
      await stopDatastore(this.ctx, true);
      await startDatastore(this.ctx);
      return this.state.get().state;
    });
  }

  /** A verified backup into this prepared instance (the Restore calls); resolves the raw bytes restored. */
  restore(plan: RestorePlan, signal: AbortSignal): Promise<number> {
    return this.lock.run('restore', async () => {
      this.requirePrepared('restore');
      if (plan.logical) this.requireRunning('restore a logical backup');
      return restorePrepared(this.ctx, plan, signal);
    });
  }

  /**
   * ResizeFilesystem: the data volume's filesystem grown online to its
   * disk's size; without a data volume (a plain directory) nothing to grow.
   * Resolves the volume as GetStatus reports it.
   */
  resizeFilesystem(signal?: AbortSignal): Promise<AgentStatus['volume']> {
    return this.lock.run('ResizeFilesystem', async () => {
      // The offline way (data-volume.ts) stops and starts the datastore as Restart does.
      await this.deps.volume?.resize(signal, {
        stop: async () => {
          const was = this.supervisor.running;
          if (was) await stopDatastore(this.ctx, true);
          return was;
        },
        start: () => startDatastore(this.ctx),
      });
      return (await statusOf(this.ctx, this.deps.config, this.operations, this.startedAtMs)).volume;
    });
  }

  /** Configuration changed that needs a restart. */
  markRestartRequired(names: readonly string[]): void {
    const pending = [...new Set([...this.state.get().pendingRestart, ...names])].sort();
    this.state.update({ state: 'RESTART_REQUIRED', reason: `restart to apply: ${pending.join(', ')}`, pendingRestart: pending });
  }

  async status(): Promise<AgentStatus & { replication: ReplicationStatus; cluster: ClusterContext | undefined }> {
    const s = await statusOf(this.ctx, this.deps.config, this.operations, this.startedAtMs);
    const replication = await this.replication.status();
    const cluster = this.deps.manager.cluster ? await this.cluster.context() : undefined;
    return { ...s, role: replication.role, replication, cluster };
  }

  /** SIGTERM: cancel operations, stop the datastore cleanly. It restarts at the next boot. */
  async shutdown(): Promise<void> {
    this.replication.fence.stop();
    this.replication.closeEndpoints();
    this.operations.cancelAll('the agent is shutting down');
    await this.deps.manager.disconnect().catch(() => undefined);
    await this.supervisor.stop();
  }
}
