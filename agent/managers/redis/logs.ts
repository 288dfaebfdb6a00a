// Redis's log (agent/logs/): the server's output, kept by the supervisor.
import path from 'node:path';
import type { DatastoreLog } from '../../logs/log-table.js';

export const redisLogFile = (logDir: string): string => path.join(logDir, 'redis.log');

export function redisLogs(logDir: string): DatastoreLog[] {
  return [{ name: 'server', type: 'SYS', file: redisLogFile(logDir) }];
}
