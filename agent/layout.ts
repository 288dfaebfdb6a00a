// Where things live under the agent's base dir. The datastore's OS user can
// reach data/, run/, etc/ and log/; agent/ (secrets, state) is root-only.
import path from 'node:path';
import { PRIVATE_RUN_SUBDIR, RUN_SUBDIR } from '../lib/base-dir.js';

export interface Layout {
  readonly baseDir: string;
  readonly dataDir: string;
  readonly etcDir: string;
  readonly runDir: string;
  /**
   * Sockets of a private server a restore starts (only root and the
   * datastore user enter). Its name is short on purpose: see lib/base-dir.ts.
   */
  readonly privateRunDir: string;
  readonly logDir: string;
  /** The agent's own state and secrets, mode 0700. */
  readonly agentDir: string;
  readonly stateFile: string;
  readonly pidFile: string;
  /** The agent's own log when it has no --log-file (the SYS log guest, agent/logs/). */
  readonly guestLogFile: string;
}

export function layoutFor(baseDir: string): Layout {
  const agentDir = path.join(baseDir, 'agent');
  return Object.freeze({
    baseDir,
    dataDir: path.join(baseDir, 'data'),
    etcDir: path.join(baseDir, 'etc'),
    runDir: path.join(baseDir, RUN_SUBDIR),
    privateRunDir: path.join(baseDir, PRIVATE_RUN_SUBDIR),
    logDir: path.join(baseDir, 'log'),
    agentDir,
    stateFile: path.join(agentDir, 'state.json'),
    pidFile: path.join(agentDir, 'datastore.pid'),
    guestLogFile: path.join(agentDir, 'guest.log'),
  });
}
