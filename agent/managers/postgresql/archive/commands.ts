// The two commands PostgreSQL runs to hand a WAL file to the agent and to
// fetch one back during a restore to a point: curl over the agent's unix
// socket (agent/archive/local-socket.ts). No Node process starts per
// segment (a cold start is ~90 ms, docs/performance.md); curl starts in a
// few ms, speaks HTTP over a unix socket (--unix-socket) and maps an HTTP
// error to a non-zero exit (--fail), which is all PostgreSQL needs:
// archive_command's exit 0 only once the agent answered that the segment is
// durable in the store; restore_command's non-zero for a file the archive
// does not hold. PostgreSQL runs both through /bin/sh, so the one variable
// part (the socket's path) is checked to need no quoting beyond '...'.
import { ARCHIVE_URL_BASE } from '../../../archive/local-socket-path.js';

export const CURL = '/usr/bin/curl';
const SAFE_PATH = /^\/[A-Za-z0-9._/-]+$/;

function socketArg(socket: string): string {
  if (!SAFE_PATH.test(socket)) throw new Error(`the archive socket path ${JSON.stringify(socket)} has characters a shell command cannot carry safely`);
  return `'${socket}'`;
}

export function archiveCommand(socket: string): string {
  return `${CURL} --silent --show-error --fail --max-time 3600 --unix-socket ${socketArg(socket)} --request POST ${ARCHIVE_URL_BASE}/archive/%f`;
}

export function restoreCommand(socket: string): string {
  return `${CURL} --silent --show-error --fail --max-time 3600 --unix-socket ${socketArg(socket)} --output %p ${ARCHIVE_URL_BASE}/restore/%f`;
}
