// The datastore's lifecycle state as the agent sees it, and the part of it
// that must survive an agent restart (persisted under the base dir).
import { readFileSync, writeFileSync, renameSync, existsSync } from 'node:fs';
import { DatastoreState } from '../proto/gen/coffer/agent/v1/lifecycle.js';

/**
 * - NEW: nothing prepared yet.
 * - BUILDING: Prepare is running.
 * - ACTIVE: the datastore runs and answers.
 * - STARTING / STOPPING: a Start, Stop or Restart is in progress.
 * - SHUTDOWN: stopped on request.
 * - CRASHED: the datastore died; the agent restarts it with backoff.
 * - RESTART_REQUIRED: running, with configuration waiting for a restart.
 * - FAILED: Prepare or a start failed; `reason` says why.
 */
export type LifecycleState =
  | 'NEW'
  | 'BUILDING'
  | 'ACTIVE'
  | 'STARTING'
  | 'STOPPING'
  | 'SHUTDOWN'
  | 'CRASHED'
  | 'RESTART_REQUIRED'
  | 'FAILED';

export const STATE_TO_PROTO: Readonly<Record<LifecycleState, DatastoreState>> = {
  NEW: DatastoreState.DATASTORE_STATE_NEW,
  BUILDING: DatastoreState.DATASTORE_STATE_BUILDING,
  ACTIVE: DatastoreState.DATASTORE_STATE_ACTIVE,
  STARTING: DatastoreState.DATASTORE_STATE_STARTING,
  STOPPING: DatastoreState.DATASTORE_STATE_STOPPING,
  SHUTDOWN: DatastoreState.DATASTORE_STATE_SHUTDOWN,
  CRASHED: DatastoreState.DATASTORE_STATE_CRASHED,
  RESTART_REQUIRED: DatastoreState.DATASTORE_STATE_RESTART_REQUIRED,
  FAILED: DatastoreState.DATASTORE_STATE_FAILED,
};

/** What is kept on disk between agent runs. */
export interface PersistedState {
  /** Prepare finished: the data directory holds a secured datastore. */
  prepared: boolean;
  /** The datastore should run (false after Stop). */
  wantRunning: boolean;
  state: LifecycleState;
  reason: string;
  /** Parameters changed that take effect after a restart. */
  pendingRestart: string[];
}

const INITIAL: PersistedState = { prepared: false, wantRunning: false, state: 'NEW', reason: '', pendingRestart: [] };

/** A small JSON file written atomically (write, then rename). */
export class StateStore {
  private current: PersistedState;

  constructor(private readonly file: string) {
    this.current = existsSync(file) ? { ...INITIAL, ...JSON.parse(readFileSync(file, 'utf8')) } : { ...INITIAL };
  }

  get(): Readonly<PersistedState> {
    return this.current;
  }

  update(patch: Partial<PersistedState>): Readonly<PersistedState> {
    this.current = { ...this.current, ...patch };
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.current, null, 2), { mode: 0o600 });
    renameSync(tmp, this.file);
    return this.current;
  }
}
