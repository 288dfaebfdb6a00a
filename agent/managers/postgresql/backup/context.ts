// What the backup strategies need from the manager, passed in.
import type { Logger } from '../../../../lib/logger.js';
import type { OsUser } from '../../../../lib/os-user.js';
import type { ProcessRunner } from '../../../../lib/process-runner.js';
import type { Layout } from '../../../layout.js';
import { ADMIN_ROLE } from '../constants.js';
import type { PgClient } from '../pg-client.js';
import type { ReplicationSettings } from '../replication/settings.js';

export interface PgBackupContext {
  readonly datastore: string;
  readonly version: string;
  readonly layout: Layout;
  readonly port: number;
  /** The rendered postgresql.conf (a temporary server for a restore starts from it). */
  readonly confFile: string;
  readonly runner: ProcessRunner;
  readonly log: Logger;
  /** The agent's connection to the running server. */
  readonly sql: PgClient;
  readonly pgUser: () => OsUser;
  /** Set when the instance is to be a standby: a physical restore then starts as one (replication/). */
  readonly replication?: ReplicationSettings;
}

/**
 * How the client tools reach the server: the socket directory, as the
 * agent's role. They run as the agent's OS user, so peer authentication
 * admits them; no password exists to pass.
 */
export function clientArgs(socketDir: string, port: number): string[] {
  return ['--host', socketDir, '--port', String(port), '--username', ADMIN_ROLE, '--no-password'];
}

/** Tools' messages in English (they end up in errors), tagged in pg_stat_activity. */
export const TOOL_ENV: Readonly<Record<string, string>> = { LC_ALL: 'C.UTF-8', LC_MESSAGES: 'C', PGAPPNAME: 'coffer-agent' };
