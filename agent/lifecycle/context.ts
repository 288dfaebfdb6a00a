// What every lifecycle step works on: the datastore's manager and
// supervisor, the persisted state, where things are, and the log.
import type { DataVolume } from './data-volume.js';
import type { Logger } from '../../lib/logger.js';
import { AgentError } from '../errors.js';
import type { Layout } from '../layout.js';
import type { DatastoreManager } from '../managers/manager.js';
import type { StateStore } from '../state.js';
import type { Supervisor } from '../supervisor.js';

export interface LifecycleContext {
  readonly manager: DatastoreManager;
  readonly supervisor: Supervisor;
  readonly state: StateStore;
  readonly layout: Layout;
  readonly log: Logger;
  /** The instance's own data disk, when its boot config names one. */
  readonly volume?: DataVolume;
}

export interface ProgressEvent {
  phase: string;
  message: string;
  percent: number;
  /** Bytes moved so far and the expected total, where the phase can tell. */
  bytesDone?: number;
  bytesTotal?: number;
}

/** Throws CANCELLED once the operation's signal fired. */
export function throwIfCancelled(signal: AbortSignal, what: string): void {
  if (signal.aborted) throw new AgentError('AGENT_ERR_CANCELLED', `${what}: ${String((signal.reason as Error)?.message ?? signal.reason)}`);
}
