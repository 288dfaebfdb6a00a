// MariaDB/MySQL logical backups: mariadb-dump's SQL, then the accounts.
//
//   backup:  mariadb-dump --single-transaction --routines --events --triggers
//            --all-databases --ignore-database=mysql   -> stdout
//            followed by the accounts section the caller built (see
//            capability.ts: users and roles, without the server's
//            and the agent's own accounts)
//   restore: the whole stream into the `mariadb` client over the socket, on
//            a RUNNING, prepared datastore.
//
// Why not --all-databases with the mysql schema, or --system=users: both
// carry the source's root and agent accounts (and their password hashes),
// so a restore would replace the target agent's own account and lock the
// agent out. The data of the mysql schema (time zones, statistics) is the
// server's own and is rebuilt by the target's initialisation.
//
// GTID: with the binary log on, --master-data=2 --gtid writes the snapshot's
// position as a comment ("SET GLOBAL gtid_slave_pos='...'") near the end of
// the dump, taken with the consistent snapshot. A rolling tail of the output
// is kept to read it back; no other part of the dump is inspected.
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { BackupSource } from '../../../../strategies/backup/source.js';
import type { Logger } from '../../../../lib/logger.js';
import type { ProcessRunner } from '../../../../lib/process-runner.js';
import type { BackupMetadata } from '../../../../proto/gen/coffer/agent/v1/backup.js';
import { DEFAULT_KILL_AFTER_MS, feedTool, spawnToolSource } from '../../../../strategies/backup/tool-io.js';

export const MYSQLDUMP = 'mysqldump';

// The head and tail of a dump hold its comments (server version, binlog
// position, GTID position); 16 KiB of each is plenty.
const KEEP = 16 * 1024;

export interface MysqldumpBackupOptions {
  readonly runner: ProcessRunner;
  readonly log: Logger;
  /** The mariadb-dump (or mysqldump) program. */
  readonly program: string;
  /** A 0600 option file with [client] user and password; given first, as --defaults-extra-file. */
  readonly credentialsFile: string;
  readonly socket: string;
  /** The binary log is on: record the snapshot's binlog and GTID position. */
  readonly binlog: boolean;
  /** SQL appended after the dump (the accounts). */
  readonly trailer: string;
  readonly signal: AbortSignal;
  readonly killAfterMs?: number;
  /** Removes the credentials file; runs once the tool has exited. */
  readonly cleanup: () => Promise<void>;
}

export function startMysqldump(o: MysqldumpBackupOptions): BackupSource {
  const argv = [
    o.program,
    `--defaults-extra-file=${o.credentialsFile}`,
    `--socket=${o.socket}`,
    // One consistent InnoDB snapshot, without locking the tables.
    '--single-transaction',
    '--routines',
    '--events',
    '--triggers',
    '--all-databases',
    '--ignore-database=mysql',
    '--hex-blob',
    '--default-character-set=utf8mb4',
    ...(o.binlog ? ['--master-data=2', '--gtid'] : []),
  ];
  const head = new Keeper(KEEP, 'head');
  const tail = new Keeper(KEEP, 'tail');
  const source = spawnToolSource(o.runner, argv, {
    signal: o.signal,
    killAfterMs: o.killAfterMs,
    cleanup: o.cleanup,
    onChunk: (chunk) => {
      head.add(chunk);
      tail.add(chunk);
    },
    trailer: Buffer.from(o.trailer, 'utf8'),
    finish: async () => {
      const meta = readDumpComments(head.text(), tail.text());
      o.log.info({ gtid: meta.gtidPosition }, 'mariadb-dump finished');
      return meta;
    },
  });
  o.log.info({ pid: source.child.pid }, 'mariadb-dump started');
  return source;
}

/** What the dump's own comments say: server version, binlog and GTID position. */
export function readDumpComments(head: string, tail: string): Partial<BackupMetadata> {
  const extra: Record<string, string> = {};
  const server = /^-- Server version\s+(.+)$/m.exec(head);
  if (server) extra['server-version'] = server[1]!.trim();
  const tool = /^-- (?:MariaDB|MySQL) dump .*$/m.exec(head);
  if (tool) extra['tool-version'] = tool[0].slice(3).trim();
  const binlog = /MASTER_LOG_FILE='([^']+)', MASTER_LOG_POS=(\d+)/.exec(head);
  if (binlog) {
    extra['binlog-file'] = binlog[1]!;
    extra['binlog-position'] = binlog[2]!;
  }
  const gtid = /gtid_slave_pos='([^']*)'/.exec(tail) ?? /gtid_slave_pos='([^']*)'/.exec(head);
  return { gtidPosition: gtid?.[1] ?? '', extra };
}

export interface MysqldumpRestoreOptions {
  readonly runner: ProcessRunner;
  readonly log: Logger;
  /** The mariadb (or mysql) client program. */
  readonly program: string;
  readonly credentialsFile: string;
  readonly socket: string;
  readonly input: Readable;
  readonly signal: AbortSignal;
  readonly killAfterMs?: number;
}

/** Replays a dump into the running datastore. The client stops at the first failing statement. */
export async function restoreMysqldump(o: MysqldumpRestoreOptions): Promise<void> {
  const argv = [
    o.program,
    `--defaults-extra-file=${o.credentialsFile}`,
    `--socket=${o.socket}`,
    '--batch',
    // Blobs are hex (--hex-blob), but a stray NUL in a string must not end a statement.
    '--binary-mode',
    '--default-character-set=utf8mb4',
    // A restore is a new baseline, as a physical one is: kept out of this
    // instance's binary log. Replayed into a replica, it would otherwise be
    // transactions its source never had (errant GTIDs, and a binary log
    // that conflicts with the snapshot's position).
    '--init-command=SET SESSION sql_log_bin = 0',
  ];
  o.log.info({ program: path.basename(o.program) }, 'replaying a logical backup');
  await feedTool(o.runner, argv, o.input, o.signal, { killAfterMs: o.killAfterMs ?? DEFAULT_KILL_AFTER_MS, what: 'replaying the logical backup' });
}

/** Keeps the first or the last `max` bytes that pass (bounded memory). */
class Keeper {
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(
    private readonly max: number,
    private readonly end: 'head' | 'tail',
  ) {}

  add(chunk: Buffer): void {
    if (this.end === 'head') {
      if (this.size >= this.max) return;
      const part = chunk.subarray(0, this.max - this.size);
      // A copy: the pipeline reuses nothing, but a slice would pin the whole chunk.
      this.chunks.push(Buffer.from(part));
      this.size += part.length;
      return;
    }
    this.chunks.push(chunk.length > this.max ? Buffer.from(chunk.subarray(chunk.length - this.max)) : chunk);
    this.size += Math.min(chunk.length, this.max);
    while (this.chunks.length > 1 && this.size - this.chunks[0]!.length >= this.max) {
      this.size -= this.chunks.shift()!.length;
    }
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}
