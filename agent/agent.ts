// The agent's core: the datastore's lifecycle state, its supervisor, and the
// lifecycle operations (Prepare, Start, Stop, Restart). The gRPC services
// call into this; nothing here knows about gRPC.
import { statfs, rename, mkdir, rm, stat, chown } from 'node:fs/promises';
import type { Logger } from '../lib/logger.js';
import type { ProcessRunner } from '../lib/process-runner.js';
import type { CompiledAgentConfig } from './config.js';
import type { Layout } from './layout.js';
import type { DatastoreManager, PrepareInput } from './managers/manager.js';
import { AgentError } from './errors.js';
import { Operations, type RunningOperation } from './operations.js';
import { StateStore, type LifecycleState } from './state.js';
import { Supervisor } from './supervisor.js';
import { directorySize } from './disk-usage.js';
import { clearScratch } from './scratch.js';

export const AGENT_VERSION = '0.1.0';

export interface ProgressEvent {
  phase: string;
  message: string;
  percent: number;
}

export interface AgentDeps {
  readonly config: CompiledAgentConfig;
  readonly layout: Layout;
  readonly manager: DatastoreManager;
  readonly runner: ProcessRunner;
  readonly log: Logger;
  /** Test seam: restart delays of the supervisor. */
  readonly backoffMs?: readonly number[];
}

/** The order and weight of Prepare's phases, for percent. */
const PREPARE_PHASES: ReadonlyArray<[string, number, string]> = [
  ['validate', 2, 'checking the request'],
  ['configure', 5, 'rendering the configuration'],
  ['init-datadir', 35, 'initialising the data directory'],
  ['start', 65, 'starting the datastore'],
  ['secure', 75, 'creating the agent account and removing insecure defaults'],
  ['databases', 85, 'creating databases'],
  ['users', 92, 'creating users'],
  ['root', 97, 'enabling root'],
];

export class Agent {
  readonly state: StateStore;
  readonly operations = new Operations();
  readonly supervisor: Supervisor;
  private readonly startedAtMs = Date.now();
  private busy: string | null = null;

  constructor(private readonly deps: AgentDeps) {
    this.state = new StateStore(deps.layout.stateFile);
    this.supervisor = new Supervisor({
      runner: deps.runner,
      log: deps.log,
      pidFile: deps.layout.pidFile,
      spec: () => deps.manager.childSpec(),
      probe: () => deps.manager.probe(),
      backoffMs: deps.backoffMs,
      onCrash: (reason) => {
        this.deps.log.error({ reason }, 'datastore crashed; restarting');
        this.state.update({ state: 'CRASHED', reason });
      },
      onRecovered: () => {
        this.deps.log.info('datastore recovered after a crash');
        // ACTIVE only once the agent's own connection is new: a call that
        // trusts ACTIVE must not meet the dead connection of the old process.
        void this.deps.manager
          .disconnect()
          .catch(() => undefined)
          .then(() => this.deps.manager.connect())
          .catch((err: Error) => this.deps.log.warn({ err: err.message }, 'reconnecting after a crash failed'))
          .then(() => {
            if (this.state.get().state !== 'CRASHED') return;
            const pending = this.state.get().pendingRestart;
            // The restart applied any pending configuration.
            this.state.update({ state: 'ACTIVE', reason: `recovered after a crash (restart ${this.supervisor.restartCount})`, pendingRestart: pending.length ? [] : pending });
          });
      },
    });
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
  async boot(): Promise<void> {
    const { log } = this.deps;
    // Synchronously, before any call is served: nothing is running yet.
    clearScratch(this.deps.layout, log);
    const s = this.state.get();
    // Until the datastore answers again, nobody may read the state the
    // previous agent left (ACTIVE) as the truth.
    if (s.prepared && s.wantRunning) this.state.update({ state: 'STARTING', reason: 'the agent is starting the datastore' });
    await Supervisor.reapOrphan(this.deps.layout.pidFile, log);
    if (s.state === 'BUILDING') {
      this.state.update({ state: 'FAILED', reason: 'the agent stopped while Prepare was running; run Prepare again' });
      return;
    }
    if (s.prepared && s.wantRunning) {
      try {
        await this.withLock('start', () => this.startDatastore());
      } catch (err) {
        log.error({ err }, 'datastore did not start at boot');
      }
    }
  }

  private async withLock<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.busy) throw new AgentError('AGENT_ERR_BUSY', `cannot ${what}: ${this.busy} is running`);
    this.busy = what;
    try {
      return await fn();
    } finally {
      this.busy = null;
    }
  }

  /** Throws unless the datastore runs (account and configuration calls need it). */
  requireRunning(what: string): void {
    const s = this.state.get().state;
    if (s !== 'ACTIVE' && s !== 'RESTART_REQUIRED') {
      throw new AgentError('AGENT_ERR_NOT_READY', `cannot ${what}: the datastore is ${s}${this.state.get().reason ? ` (${this.state.get().reason})` : ''}`);
    }
  }

  /**
   * Prepare: validate everything first (a bad request changes nothing), then
   * configure, initialise, start, secure, and create what was asked for.
   * A failure leaves FAILED with the reason; a cancel (client gone) stops
   * the datastore so nothing half-started keeps running.
   */
  async prepare(
    input: PrepareInput & { datastoreVersion: string },
    emit: (p: ProgressEvent) => void,
    op: RunningOperation,
    /** Accounts created later (after a restore): validated now, with the rest. */
    deferred?: Pick<PrepareInput, 'databases' | 'users' | 'rootPassword'>,
  ): Promise<void> {
    const { manager, log } = this.deps;
    const s = this.state.get();
    if (s.prepared) throw new AgentError('AGENT_ERR_ALREADY_PREPARED', 'this instance is prepared already; Prepare runs once per instance');
    if (input.datastoreVersion && input.datastoreVersion !== manager.version) {
      throw new AgentError('AGENT_ERR_INVALID_ARGUMENT', `datastore_version ${input.datastoreVersion} does not match this agent's ${manager.name} ${manager.version}`);
    }
    manager.validatePrepare(input);
    // Deferred users may be granted databases that come from the backup.
    if (deferred) manager.validatePrepare({ ...input, ...deferred, databases: [], users: deferred.users.map((u) => ({ ...u, databases: [] })) });
    if (deferred) for (const db of deferred.databases) manager.accounts?.validateDatabase(db);
    if (input.users.length && !manager.accounts) throw new AgentError('AGENT_ERR_UNIMPLEMENTED', `users are not supported by ${manager.name}`);

    await this.withLock('Prepare', async () => {
      const signal = op.controller.signal;
      const phase = (name: string): void => {
        const p = PREPARE_PHASES.find(([n]) => n === name)!;
        op.phase = name;
        emit({ phase: name, message: p[2], percent: p[1] });
        if (signal.aborted) throw new AgentError('AGENT_ERR_CANCELLED', `Prepare was cancelled during ${name}: ${String((signal.reason as Error)?.message ?? signal.reason)}`);
      };
      this.state.update({ state: 'BUILDING', reason: '', wantRunning: false });
      try {
        phase('validate');
        phase('configure');
        await manager.writeConfig(input.overrides);
        phase('init-datadir');
        await manager.initDataDir(signal);
        phase('start');
        this.state.update({ wantRunning: true });
        await this.supervisor.start(signal);
        phase('secure');
        await manager.secure(signal);
        if (input.databases.length) {
          phase('databases');
          await manager.accounts!.createDatabases(input.databases);
        }
        if (input.users.length) {
          phase('users');
          await manager.accounts!.createUsers(input.users);
        }
        if (input.rootPassword) {
          phase('root');
          await manager.accounts!.enableRoot(input.rootPassword);
        }
        if (signal.aborted) throw new AgentError('AGENT_ERR_CANCELLED', `Prepare was cancelled at its end: ${String((signal.reason as Error)?.message ?? signal.reason)}`);
        await manager.connect();
        this.state.update({ prepared: true, wantRunning: true, state: 'ACTIVE', reason: '', pendingRestart: [] });
        log.info({ datastore: manager.name }, 'prepare finished');
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        log.error({ err }, 'prepare failed');
        // Nothing half-started keeps running: stop what was started.
        await manager.disconnect().catch(() => undefined);
        await this.supervisor.stop().catch(() => undefined);
        this.state.update({ state: 'FAILED', reason: `Prepare failed: ${reason}`, wantRunning: false });
        throw err;
      }
    });
  }

  /** Databases, users and root after a restore (the restored data came first). */
  async createAccounts(want: Pick<PrepareInput, 'databases' | 'users' | 'rootPassword'>, emit: (p: ProgressEvent) => void): Promise<void> {
    const accounts = this.deps.manager.accounts;
    if (!accounts) return;
    if (want.databases.length) {
      emit({ phase: 'databases', message: 'creating databases', percent: 90 });
      await accounts.createDatabases(want.databases);
    }
    if (want.users.length) {
      emit({ phase: 'users', message: 'creating users', percent: 95 });
      await accounts.createUsers(want.users);
    }
    if (want.rootPassword) await accounts.enableRoot(want.rootPassword);
  }

  /** A Prepare that failed after the datastore was built (a restore into it). */
  async failPrepare(reason: string): Promise<void> {
    // Stopped, so that a second Prepare starts from an empty data directory.
    await this.deps.manager.disconnect().catch(() => undefined);
    await this.supervisor.stop().catch(() => undefined);
    this.state.update({ prepared: false, wantRunning: false, state: 'FAILED', reason });
  }

  private async startDatastore(): Promise<void> {
    this.state.update({ state: 'STARTING', reason: '', wantRunning: true });
    try {
      await this.supervisor.start();
      await this.deps.manager.connect();
      this.state.update({ state: 'ACTIVE', reason: '', pendingRestart: [] });
    } catch (err) {
      this.state.update({ state: 'FAILED', reason: `start failed: ${(err as Error).message}` });
      throw err;
    }
  }

  private async stopDatastore(wantRunning: boolean): Promise<void> {
    this.state.update({ state: 'STOPPING', reason: '' });
    await this.deps.manager.disconnect();
    await this.supervisor.stop();
    this.state.update({ state: 'SHUTDOWN', wantRunning });
  }

  private requirePrepared(what: string): void {
    if (!this.state.get().prepared) throw new AgentError('AGENT_ERR_NOT_READY', `cannot ${what}: the instance is not prepared yet (run Prepare)`);
  }

  async start(): Promise<LifecycleState> {
    this.requirePrepared('start');
    await this.withLock('Start', async () => {
      if (!this.supervisor.running) await this.startDatastore();
    });
    return this.state.get().state;
  }

  async stop(): Promise<LifecycleState> {
    this.requirePrepared('stop');
    await this.withLock('Stop', () => this.stopDatastore(false));
    return this.state.get().state;
  }

  async restart(): Promise<LifecycleState> {
    this.requirePrepared('restart');
    await this.withLock('Restart', async () => {
      await this.stopDatastore(true);
      await this.startDatastore();
    });
    return this.state.get().state;
  }

  /** Runs fn alone: no Prepare, Start, Stop, Restart or restore at the same time. */
  exclusive<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return this.withLock(what, fn);
  }

  /**
   * Restores data with the datastore stopped: the current data directory is
   * moved aside (not deleted) and put back if the restore fails, so a bad
   * backup never costs the data that was there. After a restore the agent's
   * own account is re-keyed: the restored grant tables are another
   * instance's.
   */
  async restoreData(fill: (signal: AbortSignal) => Promise<void>, signal: AbortSignal): Promise<void> {
    const { manager, layout, log } = this.deps;
    this.requirePrepared('restore');
    await this.withLock('restore', async () => {
      const before = this.state.get();
      const aside = `${layout.dataDir}.pre-restore`;
      this.state.update({ state: 'BUILDING', reason: 'restoring a backup' });
      await manager.disconnect();
      await this.supervisor.stop();
      const owner = await stat(layout.dataDir);
      await rm(aside, { recursive: true, force: true });
      await rename(layout.dataDir, aside);
      await mkdir(layout.dataDir, { mode: owner.mode & 0o777 });
      await chown(layout.dataDir, owner.uid, owner.gid);
      try {
        await fill(signal);
        await this.supervisor.start(signal);
        await manager.secure(signal, false);
        await manager.connect();
      } catch (err) {
        log.error({ err }, 'restore failed; putting the previous data back');
        await manager.disconnect().catch(() => undefined);
        await this.supervisor.stop().catch(() => undefined);
        await rm(layout.dataDir, { recursive: true, force: true });
        await rename(aside, layout.dataDir);
        const reason = `restore failed, previous data kept: ${(err as Error).message}`;
        if (before.wantRunning) {
          await this.supervisor.start().then(
            () => manager.connect(),
            (e: Error) => this.state.update({ state: 'FAILED', reason: `${reason}; and it did not start again: ${e.message}` }),
          );
        }
        if (this.state.get().state === 'BUILDING') this.state.update({ state: before.wantRunning ? 'ACTIVE' : 'SHUTDOWN', reason });
        throw err;
      }
      await rm(aside, { recursive: true, force: true });
      this.state.update({ state: 'ACTIVE', reason: '', wantRunning: true, pendingRestart: [] });
    });
  }

  /** Configuration changed that needs a restart. */
  markRestartRequired(names: readonly string[]): void {
    const pending = [...new Set([...this.state.get().pendingRestart, ...names])].sort();
    this.state.update({ state: 'RESTART_REQUIRED', reason: `restart to apply: ${pending.join(', ')}`, pendingRestart: pending });
  }

  async status() {
    const s = this.state.get();
    const { manager, layout, config } = this.deps;
    let volume = { path: layout.dataDir, totalBytes: 0, usedBytes: 0, freeBytes: 0, dataBytes: 0 };
    try {
      const fs = await statfs(layout.baseDir);
      const total = fs.blocks * fs.bsize;
      const free = fs.bavail * fs.bsize;
      volume = { path: layout.dataDir, totalBytes: total, usedBytes: total - fs.bfree * fs.bsize, freeBytes: free, dataBytes: await directorySize(layout.dataDir) };
    } catch {
      // No base dir yet (NEW): zeros.
    }
    const running = this.supervisor.running && (s.state === 'ACTIVE' || s.state === 'RESTART_REQUIRED');
    return {
      state: s.state,
      reason: s.reason,
      datastore: manager.name,
      datastoreVersion: manager.version,
      serverVersion: running ? await manager.serverVersion() : '',
      agentVersion: AGENT_VERSION,
      uptimeSeconds: this.supervisor.uptimeSeconds(),
      agentUptimeSeconds: Math.floor((Date.now() - this.startedAtMs) / 1000),
      volume,
      operations: this.operations.list().map((o) => ({ id: o.id, kind: o.kind, phase: o.phase, startedAtMs: o.startedAtMs })),
      restartCount: this.supervisor.restartCount,
      role: 'standalone',
      instanceId: config.instanceId,
      datastorePort: config.datastorePort,
      pendingRestart: [...s.pendingRestart],
    };
  }

  /** SIGTERM: cancel operations, stop the datastore cleanly. It restarts at the next boot. */
  async shutdown(): Promise<void> {
    this.operations.cancelAll('the agent is shutting down');
    await this.deps.manager.disconnect().catch(() => undefined);
    await this.supervisor.stop();
  }
}
