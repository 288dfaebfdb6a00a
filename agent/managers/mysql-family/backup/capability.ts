// The MySQL family's BackupCapability: which strategies exist for a flavor,
// the agent's credentials for the tools (a 0600 option file under the
// agent's own dir, never argv), work directories under the base dir, and the
// accounts section of a logical backup. The tools themselves are driven by
// mariabackup.ts and mysqldump.ts beside this file.
import { randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Logger } from '../../../../lib/logger.js';
import type { OsUser } from '../../../../lib/os-user.js';
import type { ProcessRunner } from '../../../../lib/process-runner.js';
import { which } from '../../../../lib/which.js';
import type { BackupMetadata } from '../../../../proto/gen/coffer/agent/v1/backup.js';
import { MARIABACKUP, checkMariabackupChain, reasonOf, restoreMariabackup, startMariabackup } from './mariabackup.js';
import { MYSQLDUMP, restoreMysqldump, startMysqldump } from './mysqldump.js';
import { AgentError, invalid } from '../../../errors.js';
import type { Layout } from '../../../layout.js';
import type { BackupCapability, BackupRequest, BackupSource } from '../../manager.js';
import { ADMIN_USER, REPLICATION_USER_PREFIX, type MysqlFlavor } from '../flavor.js';
import { account, escapeId, type SqlClient } from '../sql-client.js';
import { workRoot } from '../../../scratch.js';

export interface MysqlBackupDeps {
  readonly flavor: MysqlFlavor;
  readonly layout: Layout;
  readonly runner: ProcessRunner;
  readonly log: Logger;
  /** The agent's admin connection (logical backups read the accounts through it). */
  readonly sql: SqlClient;
  readonly socket: string;
  /** The server's option file. */
  readonly cnfFile: string;
  /** The agent's admin password, one line, 0600. */
  readonly secretFile: string;
  readonly mysqlUser: () => OsUser;
  readonly killAfterMs?: number;
}

export interface MysqlBackupCapability extends BackupCapability {
  /**
   * Per strategy: what restore() needs. false (mariabackup): the datastore
   * stopped and its data directory empty; the agent starts it afterwards
   * (and re-creates its own account, as the restored one is the source's).
   * true (mysqldump): the datastore RUNNING and prepared (initialised and
   * secured; ideally fresh), since the dump is replayed through the client;
   * the agent's account is not in the dump and stays as it is.
   */
  readonly requiresRunning: Readonly<Record<string, boolean>>;
  /** The checks restore() makes first, for the agent to run before it stops anything. */
  validateRestore(chain: readonly BackupMetadata[]): void;
}

export function createMysqlBackup(deps: MysqlBackupDeps): MysqlBackupCapability {
  const { flavor, layout, runner, log, sql, socket } = deps;
  // Physical backups need the flavor's own tool. On these machines both
  // flavors run MariaDB 10.11 binaries, but the MySQL flavor's tool would
  // be xtrabackup, which is not packaged: it offers logical backups only.
  const physical = flavor.backupTool === 'mariadb-backup' ? [MARIABACKUP] : [];
  const strategies = Object.freeze([...physical, MYSQLDUMP]);
  const killAfterMs = deps.killAfterMs;

  /** A fresh agent-only directory under <base>/work; the caller removes it. */
  const workDir = async (kind: string): Promise<string> => {
    await mkdir(workRoot(layout), { recursive: true, mode: 0o700 });
    const dir = path.join(workRoot(layout), `${kind}-${randomUUID()}`);
    await mkdir(dir, { mode: 0o700 });
    return dir;
  };

  /** The tools' login: [client] user and password in a 0600 file under <base>/agent. */
  const credentials = async (): Promise<string> => {
    const secret = readFileSync(deps.secretFile, 'utf8').trim();
    const file = path.join(layout.agentDir, `client-${randomUUID()}.cnf`);
    await writeFile(file, `[client]\nuser=${optionValue(ADMIN_USER)}\npassword=${optionValue(secret)}\n`, { mode: 0o600, flag: 'wx' });
    return file;
  };

  const tool = (what: string, ...names: string[]): string => {
    const p = which(...names);
    if (!p) throw new AgentError('AGENT_ERR_DATASTORE', `${what} is not installed on this instance (looked for ${names.join(', ')})`);
    return p;
  };

  const remove = (...paths: string[]) => async (): Promise<void> => {
    for (const p of paths) {
      await rm(p, { recursive: true, force: true }).catch((err: unknown) => log.warn({ err, path: p }, 'could not remove a temporary backup file'));
    }
  };

  function validateRequest(req: BackupRequest): void {
    if (!strategies.includes(req.strategy)) {
      throw invalid(`backup strategy "${req.strategy}" is not available for ${flavor.name}; choose one of ${strategies.join(', ')}`);
    }
    if (req.type === 'incremental') {
      if (req.strategy !== MARIABACKUP) throw invalid(`${req.strategy} backups are always full; incremental backups need ${MARIABACKUP}`);
      const parent = req.parent;
      if (!parent) throw invalid('an incremental backup needs its parent');
      if (parent.strategy !== MARIABACKUP) throw invalid(`the parent ${parent.backupId} was taken with ${parent.strategy}, not ${MARIABACKUP}`);
      if (!/^\d+$/.test(parent.toLsn)) throw invalid(`the parent ${parent.backupId} records no to_lsn to continue from`);
    }
  }

  function validateRestore(chain: readonly BackupMetadata[]): void {
    if (chain.length === 0) throw invalid('the restore chain is empty: give at least a full backup');
    const strategy = chain[0]!.strategy || MARIABACKUP;
    if (!strategies.includes(strategy)) throw invalid(`${flavor.name} cannot restore ${strategy} backups; it restores ${strategies.join(', ')}`);
    if (strategy === MARIABACKUP) checkMariabackupChain(chain);
    else if (chain.length !== 1) throw invalid(`a ${strategy} backup is always full: restore it alone, not in a chain of ${chain.length}`);
  }

  return {
    defaultStrategy: strategies[0]!,
    strategies,
    requiresRunning: Object.freeze({ [MARIABACKUP]: false, [MYSQLDUMP]: true }),
    validateRestore,

    async source(req: BackupRequest): Promise<BackupSource> {
      validateRequest(req);
      if (req.signal.aborted) throw new AgentError('AGENT_ERR_CANCELLED', `the backup was cancelled before it started: ${reasonOf(req.signal)}`);
      if (req.strategy === MARIABACKUP) {
        const program = tool('mariadb-backup', 'mariadb-backup', 'mariabackup');
        const dir = await workDir('backup');
        const creds = await credentials().catch(async (err: unknown) => {
          await remove(dir)();
          throw err;
        });
        const cleanup = remove(creds, dir);
        try {
          return await startMariabackup({
            runner, log, program, credentialsFile: creds, socket, user: ADMIN_USER, workDir: dir,
            incrementalLsn: req.type === 'incremental' ? req.parent!.toLsn : undefined,
            signal: req.signal, killAfterMs, cleanup,
          });
        } catch (err) {
          await cleanup();
          throw err;
        }
      }
      const program = tool('mariadb-dump', 'mariadb-dump', 'mysqldump');
      // Read before the dump starts, so a failure here leaves no process behind.
      const binlog = String((await sql.query('SELECT @@GLOBAL.log_bin AS b'))[0]?.b ?? '0') === '1';
      const trailer = await accountsSql(sql, flavor.reservedUsers);
      const creds = await credentials();
      const cleanup = remove(creds);
      try {
        return startMysqldump({ runner, log, program, credentialsFile: creds, socket, binlog, trailer, signal: req.signal, killAfterMs, cleanup });
      } catch (err) {
        await cleanup();
        throw err;
      }
    },

    async restore(chain: readonly BackupMetadata[], open: (index: number) => Promise<Readable>, signal: AbortSignal): Promise<void> {
      validateRestore(chain);
      if (signal.aborted) throw new AgentError('AGENT_ERR_CANCELLED', `the restore was cancelled before it started: ${reasonOf(signal)}`);
      const strategy = chain[0]!.strategy || MARIABACKUP;
      if (strategy === MARIABACKUP) {
        const program = tool('mariadb-backup', 'mariadb-backup', 'mariabackup');
        const mbstream = tool('mbstream', 'mbstream');
        const dir = await workDir('restore');
        try {
          const u = deps.mysqlUser();
          await restoreMariabackup({
            runner, log, program, mbstream, serverDefaultsFile: deps.cnfFile, dataDir: layout.dataDir, workDir: dir,
            owner: { uid: u.uid, gid: u.gid }, chain, open, signal, killAfterMs,
          });
        } finally {
          await remove(dir)();
        }
        return;
      }
      const program = tool('the mariadb client', 'mariadb', 'mysql');
      const creds = await credentials();
      try {
        await restoreMysqldump({ runner, log, program, credentialsFile: creds, socket, input: await open(0), signal, killAfterMs });
      } finally {
        await remove(creds)();
      }
    },
  };
}

/**
 * The accounts section of a logical backup: roles, then users (with their
 * password hashes and authentication plugins, as SHOW CREATE USER gives
 * them), then every grant, role grants and default roles included. The
 * server's and the agent's own accounts are left out; CREATE OR REPLACE
 * makes a replay onto a prepared instance that has the same users succeed.
 */
export async function accountsSql(sql: SqlClient, reserved: readonly string[]): Promise<string> {
  const rows = await sql.query(`SELECT User AS u, Host AS h, is_role AS r FROM mysql.user ORDER BY is_role DESC, User, Host`);
  const skip = new Set([...reserved, 'mariadb_dump_import_role']);
  const creates: string[] = [];
  const grants: string[] = [];
  for (const row of rows) {
    const name = String(row.u);
    const host = String(row.h);
    // Replication accounts belong to the source they were made on.
    if (skip.has(name) || name === '' || name.startsWith(REPLICATION_USER_PREFIX)) continue;
    const isRole = String(row.r) === 'Y';
    if (isRole) {
      creates.push(`CREATE ROLE IF NOT EXISTS ${escapeId(name)};`);
      for (const g of await sql.query(`SHOW GRANTS FOR ${escapeId(name)}`)) grants.push(firstValue(g) + ';');
      continue;
    }
    const who = account(name, host);
    const create = firstValue((await sql.query(`SHOW CREATE USER ${who}`))[0] ?? {});
    if (!create.startsWith('CREATE USER ')) throw new AgentError('AGENT_ERR_DATASTORE', `unexpected SHOW CREATE USER output for ${who}`);
    creates.push(`CREATE OR REPLACE USER ${create.slice('CREATE USER '.length)};`);
    for (const g of await sql.query(`SHOW GRANTS FOR ${who}`)) grants.push(firstValue(g) + ';');
  }
  return [
    '',
    '-- Accounts (coffer-agent): users and roles, without the server\'s and the agent\'s own.',
    ...creates,
    ...grants,
    '',
  ].join('\n');
}

function firstValue(row: Record<string, unknown>): string {
  return String(Object.values(row)[0] ?? '');
}

/** A value in a MySQL option file: double-quoted, with backslash and quote escaped. */
function optionValue(value: string): string {
  if (/[\r\n]/.test(value)) throw new AgentError('AGENT_ERR_INTERNAL', 'a credential holds a line break');
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
