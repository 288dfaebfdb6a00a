// The server's binary log files, as the server lists them: which are
// closed (every one but the last), where they are, rotating the active one
// and purging old ones. The agent owns the purge (my.cnf renders
// expire_logs_days = 0): the server's own expiry knows nothing of the
// archive and would remove a file that was never shipped.
import path from 'node:path';
import { CofferError } from '../../../../lib/coded-error.js';
import type { SqlClient } from '../sql-client.js';

export interface BinlogFile {
  /** mysql-bin.000042 */
  readonly name: string;
  /** Absolute path on this host. */
  readonly path: string;
  /** The number in its name: files of one server follow each other by it. */
  readonly sequence: number;
}

export interface BinlogListing {
  /** Closed files, oldest first: the server writes no more into them. */
  readonly closed: readonly BinlogFile[];
  /** The file the server writes into now. */
  readonly active: BinlogFile;
}

const NAME = /^[A-Za-z0-9_.-]+\.(\d{6,})$/;

export function sequenceOf(name: string): number {
  const m = NAME.exec(name);
  if (!m) throw new CofferError('DATASTORE', `the server lists a binary log named ${JSON.stringify(name.slice(0, 80))}, which is not <base>.<number>`);
  return Number(m[1]);
}

export class BinlogFiles {
  constructor(private readonly sql: SqlClient) {}

  async list(): Promise<BinlogListing> {
    const base = String((await this.sql.query('SELECT @@GLOBAL.log_bin_basename AS b'))[0]?.b ?? '');
    if (!base || !path.isAbsolute(base)) throw new CofferError('NOT_READY', 'the server writes no binary log (log_bin is off)');
    const dir = path.dirname(base);
    const rows = await this.sql.query('SHOW BINARY LOGS');
    const files = rows.map((r) => {
      const name = String(r.Log_name);
      return { name, path: path.join(dir, name), sequence: sequenceOf(name) };
    });
    const active = files.pop();
    if (!active) throw new CofferError('NOT_READY', 'the server lists no binary log');
    return { closed: files, active };
  }

  /** Closes the active file and opens the next (FLUSH BINARY LOGS). */
  async rotate(): Promise<void> {
    await this.sql.query('FLUSH BINARY LOGS');
  }

  /**
   * Removes every file before `name` (PURGE BINARY LOGS TO). The server
   * keeps a file a connected replica still reads, and says so in a warning
   * rather than failing.
   */
  async purgeBefore(name: string): Promise<void> {
    sequenceOf(name);
    await this.sql.query('PURGE BINARY LOGS TO ?', [name]);
  }
}
