// The part of an agent's base dir that whoever places an agent must respect:
// the datastore's unix sockets live in its run/ and prun/ subdirectories,
// and a socket's path must fit sockaddr_un.sun_path (107 bytes and a NUL on
// Linux). The agent refuses a base dir that is too long; the control refuses
// a data dir under which every instance's base dir would be.
import path from 'node:path';

/** The sockets of the datastore the agent runs. */
export const RUN_SUBDIR = 'run';
/**
 * The sockets of a private server a restore starts (only root and the
 * datastore user enter). Short on purpose: it must fit the same limit.
 */
export const PRIVATE_RUN_SUBDIR = 'prun';

// The longest name any manager puts in run/ or prun/ is PostgreSQL's
// ".s.PGSQL.<port>" (14 bytes with a five-digit port); mysqld.sock and
// redis.sock are shorter, and so must every other socket name be.
export const MAX_SOCKET_PATH = 107;
export const LONGEST_SOCKET_NAME = '.s.PGSQL.65535';

/** Why `baseDir` is too long for the sockets under its run dirs, or undefined if it fits. */
export function socketRoomProblem(baseDir: string): string | undefined {
  const longestDir = [RUN_SUBDIR, PRIVATE_RUN_SUBDIR].reduce((a, b) => (a.length >= b.length ? a : b));
  const longest = path.join(baseDir, longestDir, LONGEST_SOCKET_NAME);
  const bytes = Buffer.byteLength(longest);
  if (bytes <= MAX_SOCKET_PATH) return undefined;
  const room = MAX_SOCKET_PATH - (bytes - Buffer.byteLength(baseDir));
  return `the base dir ${baseDir} is ${Buffer.byteLength(baseDir)} bytes long; the datastore's unix sockets under it would be ${bytes} bytes, over the ${MAX_SOCKET_PATH} a socket path may have: use a base dir of at most ${room} bytes`;
}
