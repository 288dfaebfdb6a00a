// PostgreSQL's log (agent/logs/): the server's stderr, kept by the
// supervisor. Trove calls it general; enabling it turns statement logging on
// (log_statement = all), which the server takes without a restart.
import path from 'node:path';
import type { DatastoreLog } from '../../logs/log-table.js';

export const pgLogFile = (logDir: string): string => path.join(logDir, 'postgresql.log');

export function postgresLogs(logDir: string): DatastoreLog[] {
  return [
    {
      name: 'general',
      type: 'USER',
      file: pgLogFile(logDir),
      switch: {
        on: { log_statement: 'all' },
        off: { log_statement: 'none' },
        isOn: (o) => Object.hasOwn(o, 'log_statement') && o.log_statement !== 'none',
      },
    },
  ];
}
