// MariaDB's and MySQL's logs (agent/logs/). The error log is the server's
// output, kept by the supervisor; the general and slow query logs are
// written by the server to the files my-cnf.ts names, while general_log and
// slow_query_log are on.
import path from 'node:path';
import { booleanSwitch, type DatastoreLog } from '../../logs/log-table.js';

export const generalLogFile = (logDir: string): string => path.join(logDir, 'general.log');
export const slowLogFile = (logDir: string): string => path.join(logDir, 'slow.log');
export const errorLogFile = (logDir: string): string => path.join(logDir, 'error.log');

export function mysqlLogs(logDir: string): DatastoreLog[] {
  return [
    { name: 'error', type: 'SYS', file: errorLogFile(logDir) },
    { name: 'general', type: 'USER', file: generalLogFile(logDir), switch: booleanSwitch('general_log') },
    { name: 'slow_query', type: 'USER', file: slowLogFile(logDir), switch: booleanSwitch('slow_query_log') },
  ];
}
