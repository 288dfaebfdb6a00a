// Where things live under the agent's base dir. The datastore's OS user can
// reach data/, run/, etc/ and log/; agent/ (secrets, state) is root-only.
import path from 'node:path';

export interface Layout {
  readonly baseDir: string;
  readonly dataDir: string;
  readonly etcDir: string;
  readonly runDir: string;
  /**
   * Sockets of a private server a restore starts (only root and the
   * datastore user enter). Its name is short on purpose: see MAX_SOCKET_PATH.
   */
  readonly privateRunDir: string;
  readonly logDir: string;
  /** The agent's own state and secrets, mode 0700. */
  readonly agentDir: string;
  readonly stateFile: string;
  readonly pidFile: string;
}

export function layoutFor(baseDir: string): Layout {
  const agentDir = path.join(baseDir, 'agent');
  return Object.freeze({
    baseDir,
    dataDir: path.join(baseDir, 'data'),
    etcDir: path.join(baseDir, 'etc'),
    runDir: path.join(baseDir, 'run'),
    privateRunDir: path.join(baseDir, 'prun'),
    logDir: path.join(baseDir, 'log'),
    agentDir,
    stateFile: path.join(agentDir, 'state.json'),
    pidFile: path.join(agentDir, 'datastore.pid'),
  });
}

// A unix socket's path must fit sockaddr_un.sun_path: 107 bytes and a NUL
// on Linux. The longest name any manager puts in run/ or prun/ is
// PostgreSQL's ".s.PGSQL.<port>" (14 bytes with a five-digit port);
// mysqld.sock and redis.sock are shorter, and so must every other socket
// name be.
export const MAX_SOCKET_PATH = 107;
export const LONGEST_SOCKET_NAME = '.s.PGSQL.65535';

/** Why `baseDir` is too long for the sockets under its run/, or undefined if it fits. */
export function socketRoomProblem(baseDir: string): string | undefined {
  const { runDir, privateRunDir } = layoutFor(baseDir);
  const longest = path.join(runDir.length > privateRunDir.length ? runDir : privateRunDir, LONGEST_SOCKET_NAME);
  const bytes = Buffer.byteLength(longest);
  if (bytes <= MAX_SOCKET_PATH) return undefined;
  const room = MAX_SOCKET_PATH - (bytes - Buffer.byteLength(baseDir));
  return `the base dir ${baseDir} is ${Buffer.byteLength(baseDir)} bytes long; the datastore's unix sockets under it would be ${bytes} bytes, over the ${MAX_SOCKET_PATH} a socket path may have: use a base dir of at most ${room} bytes`;
}
