// MariaDB physical backups with mariadb-backup, as raw xbstream: the agent
// wraps the stream in the pipeline (compression, encryption, storage).
//
//   backup:  mariadb-backup --backup --stream=xbstream  -> stdout
//   restore: for each chain element: mbstream -x, then --prepare (the full
//            backup, then each increment in order), --move-back, chown.
//
// The LSN range comes from the xtrabackup_checkpoints file that
// mariadb-backup writes to --extra-lsndir at the end of the backup (with
// xtrabackup_info beside it). That file is the tool's structured record for
// exactly this purpose (the next increment's --incremental-lsn is its
// to_lsn); the stderr line "The latest check point (for incremental)" is log
// wording that changes between releases, and digging the same file out of
// the xbstream would mean parsing the stream format in the hot path. The
// GTID position comes from the binlog_pos line of xtrabackup_info, which
// mariadb-backup reads under BACKUP STAGE BLOCK_COMMIT: the position of the
// backup's consistency point, where @@gtid_current_pos read afterwards would
// already include later commits.
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { AgentError, invalid, notFound } from '../../../errors.js';
import type { BackupSource } from '../../../../strategies/backup/source.js';
import type { Logger } from '../../../../lib/logger.js';
import type { ProcessRunner } from '../../../../lib/process-runner.js';
import { BackupType, type BackupMetadata } from '../../../../proto/gen/coffer/agent/v1/backup.js';
import { DEFAULT_KILL_AFTER_MS, feedTool, reasonOf, runFailure, spawnToolSource } from '../../../../strategies/backup/tool-io.js';

export { reasonOf } from '../../../../strategies/backup/tool-io.js';

export const MARIABACKUP = 'mariabackup';

// ---------------------------------------------------------------------------
// mariadb-backup: backup

export interface MariabackupBackupOptions {
  readonly runner: ProcessRunner;
  readonly log: Logger;
  /** The mariadb-backup program. */
  readonly program: string;
  /** A 0600 option file with [client] user and password; given first, as --defaults-extra-file. */
  readonly credentialsFile: string;
  readonly socket: string;
  readonly user: string;
  /** An empty directory only the agent can read, under the base dir. */
  readonly workDir: string;
  /** For an incremental: the parent's to_lsn. */
  readonly incrementalLsn?: string;
  readonly signal: AbortSignal;
  readonly killAfterMs?: number;
  /** Removes the credentials file and the work dir; runs once the tool has exited. */
  readonly cleanup: () => Promise<void>;
}

export async function startMariabackup(o: MariabackupBackupOptions): Promise<BackupSource> {
  if (o.incrementalLsn !== undefined && !/^\d+$/.test(o.incrementalLsn)) {
    throw invalid(`the parent's to_lsn "${o.incrementalLsn.slice(0, 40)}" is not an LSN`);
  }
  const lsnDir = path.join(o.workDir, 'lsn');
  const targetDir = path.join(o.workDir, 'target');
  const tmpDir = path.join(o.workDir, 'tmp');
  for (const d of [lsnDir, targetDir, tmpDir]) await mkdir(d, { recursive: true, mode: 0o700 });
  const argv = [
    o.program,
    // Must be the first option. The password never appears on argv.
    `--defaults-extra-file=${o.credentialsFile}`,
    '--backup',
    '--stream=xbstream',
    `--target-dir=${targetDir}`,
    `--extra-lsndir=${lsnDir}`,
    `--tmpdir=${tmpDir}`,
    `--socket=${o.socket}`,
    `--user=${o.user}`,
    ...(o.incrementalLsn !== undefined ? [`--incremental-lsn=${o.incrementalLsn}`] : []),
  ];
  const source = spawnToolSource(o.runner, argv, {
    signal: o.signal,
    killAfterMs: o.killAfterMs,
    cleanup: o.cleanup,
    finish: async () => {
      const meta = await readBackupRecord(lsnDir);
      if (o.incrementalLsn !== undefined && meta.fromLsn !== o.incrementalLsn) {
        throw new AgentError('AGENT_ERR_DATASTORE', `mariadb-backup recorded from_lsn ${meta.fromLsn}, but the increment was asked from ${o.incrementalLsn}`);
      }
      o.log.info({ fromLsn: meta.fromLsn, toLsn: meta.toLsn, gtid: meta.gtidPosition }, 'mariadb-backup finished');
      return meta;
    },
  });
  o.log.info({ pid: source.child.pid, incremental: o.incrementalLsn !== undefined }, 'mariadb-backup started');
  return source;
}

/** Reads what mariadb-backup left in --extra-lsndir into metadata fields. */
export async function readBackupRecord(lsnDir: string): Promise<Partial<BackupMetadata>> {
  const cp = parseKeyValues(await readFile(path.join(lsnDir, 'xtrabackup_checkpoints'), 'utf8'));
  const info = parseKeyValues(await readFile(path.join(lsnDir, 'xtrabackup_info'), 'utf8').catch(() => ''));
  const fromLsn = cp.from_lsn ?? '';
  const toLsn = cp.to_lsn ?? '';
  if (!/^\d+$/.test(fromLsn) || !/^\d+$/.test(toLsn)) {
    throw new AgentError('AGENT_ERR_DATASTORE', `mariadb-backup left no usable LSN range in xtrabackup_checkpoints (from_lsn "${fromLsn}", to_lsn "${toLsn}")`);
  }
  const binlog = parseBinlogPos(info.binlog_pos ?? '');
  const extra: Record<string, string> = {};
  const put = (k: string, v: string | undefined): void => {
    if (v) extra[k] = v;
  };
  put('server-version', info.server_version);
  put('tool-version', info.tool_version);
  put('last-lsn', cp.last_lsn);
  put('binlog-file', binlog?.file);
  put('binlog-position', binlog?.position);
  return { fromLsn, toLsn, gtidPosition: binlog?.gtid ?? '', extra };
}

/** "key = value" lines (xtrabackup_checkpoints, xtrabackup_info). */
export function parseKeyValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i <= 0) continue;
    out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

/** "filename 'mysql-bin.000001', position '1534', GTID of the last change '0-1-7'" */
export function parseBinlogPos(text: string): { file: string; position: string; gtid: string } | null {
  const m = /filename '([^']*)', position '(\d+)'(?:, GTID of the last change '([^']*)')?/.exec(text);
  return m ? { file: m[1]!, position: m[2]!, gtid: m[3] ?? '' } : null;
}

// ---------------------------------------------------------------------------
// mariadb-backup: restore

/**
 * Refuses a chain that cannot be applied, before anything is touched: a full
 * backup first, then increments each naming the one before it as parent
 * (NOT_FOUND when one is missing) and starting at its to_lsn (INVALID_ARGUMENT
 * when the LSNs leave a gap).
 */
export function checkMariabackupChain(chain: readonly BackupMetadata[]): void {
  if (chain.length === 0) throw invalid('the restore chain is empty: give at least a full backup');
  chain.forEach((m, i) => {
    const id = m.backupId || `#${i}`;
    if (m.strategy && m.strategy !== MARIABACKUP) throw invalid(`backup ${id} was taken with ${m.strategy}; this chain is ${MARIABACKUP}`);
    if (i === 0) {
      if (m.type === BackupType.BACKUP_TYPE_INCREMENTAL) {
        throw notFound(`backup ${id} is incremental, and its parent ${m.parentId || '(unknown)'} is missing from the chain: a restore starts from a full backup`);
      }
      return;
    }
    const prev = chain[i - 1]!;
    if (m.type !== BackupType.BACKUP_TYPE_INCREMENTAL) throw invalid(`chain element ${i} (${id}) is a full backup; only the first element may be`);
    if (m.parentId && prev.backupId && m.parentId !== prev.backupId) {
      throw notFound(`backup ${id} is an increment of ${m.parentId}, which is missing from the chain (it follows ${prev.backupId})`);
    }
    if (m.fromLsn && prev.toLsn && m.fromLsn !== prev.toLsn) {
      throw invalid(`backup ${id} starts at LSN ${m.fromLsn} but ${prev.backupId || 'its parent'} ends at LSN ${prev.toLsn}: the chain has a gap`);
    }
  });
}

export interface MariabackupRestoreOptions {
  readonly runner: ProcessRunner;
  readonly log: Logger;
  readonly program: string;
  readonly mbstream: string;
  /** The server's own option file (datadir and InnoDB paths as the server sees them). */
  readonly serverDefaultsFile: string;
  /** Empty; the datastore is stopped. */
  readonly dataDir: string;
  /** Empty, agent-only, on the data dir's filesystem (so --move-back renames); the caller removes it. */
  readonly workDir: string;
  readonly owner: { readonly uid: number; readonly gid: number };
  readonly chain: readonly BackupMetadata[];
  readonly open: (index: number) => Promise<Readable>;
  readonly signal: AbortSignal;
  readonly killAfterMs?: number;
}

export async function restoreMariabackup(o: MariabackupRestoreOptions): Promise<void> {
  checkMariabackupChain(o.chain);
  const { runner, log, signal } = o;
  const killAfterMs = o.killAfterMs ?? DEFAULT_KILL_AFTER_MS;
  const base = path.join(o.workDir, 'full');
  let appliedToLsn = '';
  for (let i = 0; i < o.chain.length; i++) {
    const m = o.chain[i]!;
    const id = m.backupId || `#${i}`;
    if (signal.aborted) throw new AgentError('AGENT_ERR_CANCELLED', `restore was cancelled: ${reasonOf(signal)}`);
    // Increments are extracted, applied and removed one at a time: the work
    // dir never holds more than the full backup plus one increment.
    const dir = i === 0 ? base : path.join(o.workDir, `inc-${i}`);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // From zstd -d straight into mbstream where the backup is zstd-compressed (ProgramOutput).
    await feedTool(runner, [o.mbstream, '-x', '-C', dir], await o.open(i), signal, { killAfterMs, what: `extracting backup ${id}` });

    // The object itself must be what the metadata says, and continue the chain.
    const cp = parseKeyValues(await readFile(path.join(dir, 'xtrabackup_checkpoints'), 'utf8').catch(() => ''));
    if (!cp.to_lsn) throw new AgentError('AGENT_ERR_INTEGRITY', `backup ${id} holds no xtrabackup_checkpoints: it is not a mariadb-backup stream`);
    if ((m.toLsn && cp.to_lsn !== m.toLsn) || (m.fromLsn && cp.from_lsn !== m.fromLsn)) {
      throw new AgentError('AGENT_ERR_INTEGRITY', `backup ${id} covers LSNs ${cp.from_lsn}-${cp.to_lsn}, but its metadata says ${m.fromLsn}-${m.toLsn}`);
    }
    if (i > 0 && cp.from_lsn !== appliedToLsn) {
      throw invalid(`backup ${id} starts at LSN ${cp.from_lsn}, but the chain before it ends at ${appliedToLsn}: the chain has a gap`);
    }

    const what = i === 0 ? `preparing backup ${id}` : `applying increment ${id}`;
    log.info({ backupId: m.backupId, fromLsn: cp.from_lsn, toLsn: cp.to_lsn }, what);
    // --no-defaults: the prepare reads the backup's own backup-my.cnf, not
    // whatever /etc/mysql says.
    const argv = [o.program, '--no-defaults', '--prepare', `--target-dir=${base}`, ...(i > 0 ? [`--incremental-dir=${dir}`] : [])];
    await runner.run(argv, { signal, killAfterMs }).catch((err: unknown) => {
      throw runFailure(err, what, signal);
    });
    if (i > 0) await rm(dir, { recursive: true, force: true });
    appliedToLsn = cp.to_lsn;
  }

  // --move-back renames files into the data dir (same filesystem), so the
  // restore needs no second copy of the data.
  log.info({ dataDir: o.dataDir }, 'moving the prepared backup into the data directory');
  await runner
    .run([o.program, `--defaults-file=${o.serverDefaultsFile}`, '--move-back', `--target-dir=${base}`, `--datadir=${o.dataDir}`], { signal, killAfterMs })
    .catch((err: unknown) => {
      throw runFailure(err, 'moving the backup into the data directory', signal);
    });
  await runner.run(['chown', '-R', `${o.owner.uid}:${o.owner.gid}`, '--', o.dataDir], { signal, killAfterMs }).catch((err: unknown) => {
    throw runFailure(err, 'giving the restored files to the datastore user', signal);
  });
}
