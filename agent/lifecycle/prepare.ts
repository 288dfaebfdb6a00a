// Prepare: turns a NEW instance into a running, secured datastore, from
// nothing or from a backup. It is one operation under the agent's lock and
// the instance reports BUILDING until all of it is done, the restore and the
// accounts created after it included: whatever trusts ACTIVE (the control's
// resumed prepare step, reset_status, heartbeats) can trust it fully. A
// failure goes straight to FAILED with the reason, and stops what was
// started, so that a second Prepare begins from scratch.
import type { CloneProgress, PrepareInput } from '../managers/manager.js';
import { AgentError } from '../errors.js';
import type { RunningOperation } from '../operations.js';
import { throwIfCancelled, type LifecycleContext, type ProgressEvent } from './context.js';
import { restoreInto, type ReplayHooks, type RestorePlan } from './restore-swap.js';
import type { ReplicaPrepare } from '../replication/replication.js';
import { stopQuietly } from './start-stop.js';

export type PrepareRequestInput = PrepareInput & { datastoreVersion: string };
type Accounts = Pick<PrepareInput, 'databases' | 'users' | 'rootPassword'>;

/** Where the data comes from when Prepare restores a backup. */
export interface PrepareFromBackup {
  /** Replayed into a running datastore (a dump), not written into a stopped one's data directory. */
  readonly logical: boolean;
  /** Verifies the chain (nothing is written yet); progress is the restore's own. */
  verify(onProgress: (p: Omit<ProgressEvent, 'percent'>) => void, signal: AbortSignal): Promise<RestorePlan>;
  /** A restore to a point: the archive replayed after the backup (agent/archive/point-restore.ts). */
  readonly replay?: {
    before(): Promise<void>;
    after(signal: AbortSignal, onProgress: (message: string) => void): Promise<unknown>;
    failure(): Error | undefined;
    end(): void;
  };
}

/** The order and weight of Prepare's phases, for percent. */
const PREPARE_PHASES: ReadonlyArray<[string, number, string]> = [
  ['validate', 2, 'checking the request'],
  ['volume', 3, 'formatting and mounting the data volume'],
  ['configure', 5, 'rendering the configuration'],
  ['init-datadir', 35, 'initialising the data directory'],
  // A replica cloned from its source instead (up to 60 as it copies).
  ['clone', 5, "copying the source's data directory"],
  ['start', 65, 'starting the datastore'],
  ['secure', 75, 'creating the agent account and removing insecure defaults'],
  ['restore', 80, 'restoring the backup'],
  ['replay', 82, 'replaying the archive to the restore target'],
  ['attach', 84, 'following the source as a replica'],
  ['databases', 85, 'creating databases'],
  ['users', 92, 'creating users'],
  ['root', 97, 'enabling root'],
];

/**
 * Everything that can be refused without changing anything. With a backup,
 * users may be granted databases that only the backup brings.
 */
export function validatePrepare(ctx: LifecycleContext, input: PrepareRequestInput, fromBackup: boolean): void {
  const { manager } = ctx;
  if (ctx.state.get().prepared) throw new AgentError('AGENT_ERR_ALREADY_PREPARED', 'this instance is prepared already; Prepare runs once per instance');
  if (input.datastoreVersion && input.datastoreVersion !== manager.version) {
    throw new AgentError('AGENT_ERR_INVALID_ARGUMENT', `datastore_version ${input.datastoreVersion} does not match this agent's ${manager.name} ${manager.version}`);
  }
  if (fromBackup) {
    manager.validatePrepare({ ...input, databases: [], users: input.users.map((u) => ({ ...u, databases: [] })) });
    for (const db of input.databases) manager.accounts?.validateDatabase(db);
  } else {
    manager.validatePrepare(input);
  }
  if (input.users.length && !manager.accounts) throw new AgentError('AGENT_ERR_UNIMPLEMENTED', `users are not supported by ${manager.name}`);
}

/** Runs Prepare; the caller holds the agent's lock and validated the input. */
export async function runPrepare(
  ctx: LifecycleContext,
  input: PrepareRequestInput,
  emit: (p: ProgressEvent) => void,
  op: RunningOperation,
  fromBackup?: PrepareFromBackup,
  replica?: ReplicaPrepare,
): Promise<void> {
  const { manager, supervisor, state, log } = ctx;
  const signal = op.controller.signal;
  const phase = (name: string): void => {
    const p = PREPARE_PHASES.find(([n]) => n === name)!;
    op.phase = name;
    emit({ phase: name, message: p[2], percent: p[1] });
    throwIfCancelled(signal, `Prepare was cancelled during ${name}`);
  };
  state.update({ state: 'BUILDING', reason: '', wantRunning: false });
  let step = '';
  try {
    phase('validate');
    if (ctx.volume) {
      // First of all: everything after writes under the mount point.
      phase('volume');
      step = 'the data volume: ';
      await ctx.volume.prepare(signal);
      step = '';
    }
    phase('configure');
    await manager.writeConfig(input.overrides);
    // A replica with no backup to restore is cloned from its source in one
    // pass (validatePrepare let it through only where the datastore can).
    const clone = replica && !fromBackup ? replica.clone : undefined;
    // A physical restore replaces the whole data directory: a datastore
    // that can say so skips making, starting and securing one only to set
    // it aside (seconds of a replica's creation, docs/performance.md).
    const intoEmpty = !!fromBackup && !fromBackup.logical && !!manager.emptyDataDir;
    if (clone) {
      phase('clone');
      step = 'cloning the source failed: ';
      await clone((p) => emit({ phase: 'clone', message: cloneMessage(p), percent: p.bytesTotal > 0 ? 5 + Math.min(55, (55 * p.bytesDone) / p.bytesTotal) : 5, ...p }), signal);
      // As after a restore: configured to follow before its first start.
      await replica!.beforeStart();
      step = '';
    } else {
      phase('init-datadir');
      if (intoEmpty) await manager.emptyDataDir!();
      else await manager.initDataDir(signal);
    }
    if (intoEmpty) {
      // The restore starts it, on the restored data.
      state.update({ wantRunning: true });
    } else {
      phase('start');
      state.update({ wantRunning: true });
      await supervisor.start(signal);
      phase('secure');
      // A clone's accounts are its source's: only the agent's own is seen to.
      await manager.secure(signal, !clone);
    }
    if (fromBackup) {
      phase('restore');
      step = 'restore from backup failed: ';
      const plan = await fromBackup.verify((p) => {
        op.phase = p.phase;
        emit({ ...p, percent: 80 });
      }, signal);
      // A replica is configured to follow its source before it first
      // starts on the restored data, so it never writes a transaction of
      // its own (a logical restore replays into a running server: attach
      // alone makes it a replica).
      const r = fromBackup.replay;
      const replay: ReplayHooks | undefined = r && {
        before: () => r.before(),
        after: async (s) => {
          phase('replay');
          step = 'replay to the restore target failed: ';
          await r.after(s, (message) => emit({ phase: 'replay', message, percent: 82 }));
        },
        failure: () => r.failure(),
      };
      try {
        await restoreInto(ctx, plan, signal, replica && !plan.logical ? () => replica.beforeStart() : undefined, replay);
      } finally {
        r?.end();
      }
      step = '';
    }
    if (replica) {
      phase('attach');
      step = 'attaching to the source failed: ';
      await replica.attach(signal);
      step = '';
    }
    await createAccounts(ctx, input, phase);
    throwIfCancelled(signal, 'Prepare was cancelled at its end');
    await manager.connect();
    state.update({ prepared: true, wantRunning: true, state: 'ACTIVE', reason: '', pendingRestart: [] });
    log.info({ datastore: manager.name, fromBackup: !!fromBackup }, 'prepare finished');
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    log.error({ err }, 'prepare failed');
    // Nothing half-started keeps running.
    await stopQuietly(ctx);
    state.update({ prepared: false, wantRunning: false, state: 'FAILED', reason: `Prepare failed: ${step}${reason}` });
    throw err;
  }
}

function cloneMessage(p: CloneProgress): string {
  const mb = (n: number): string => (n / 1e6).toFixed(0);
  return p.bytesTotal > 0 ? `copying the source's data directory: ${mb(p.bytesDone)} of ${mb(p.bytesTotal)} MB` : `copying the source's data directory: ${mb(p.bytesDone)} MB`;
}

/** Databases, users and root: after a restore, the restored data comes first. */
async function createAccounts(ctx: LifecycleContext, want: Accounts, phase: (name: string) => void): Promise<void> {
  const accounts = ctx.manager.accounts;
  // Without accounts (Redis), validation refused users already; nothing else applies.
  if (!accounts) return;
  if (want.databases.length) {
    phase('databases');
    await accounts.createDatabases(want.databases);
  }
  if (want.users.length) {
    phase('users');
    await accounts.createUsers(want.users);
  }
  if (want.rootPassword) {
    phase('root');
    await accounts.enableRoot(want.rootPassword);
  }
}
