// The MySQL family's archiving capability (agent/archive/, docs/pitr.md):
// the steps of continuous binlog archiving and of a restore to a point that
// speak to the server. The core stores, catalogues, plans and verifies.
//
// - Archiving: the server has no archive_command, so the capability drives
//   the hand-over itself (drive): a pass every few seconds hands every
//   closed binlog to the core, rotates the active one on the archive
//   timeout, and purges what was archived (binlog-archiver.ts).
// - Restore to a point: the backup's data restored and the server running,
//   replay() writes the planned binlogs (fetched and verified by the core)
//   to a work dir and pipes them through mariadb-binlog into the server
//   (binlog-replay.ts), from the backup's GTID position to the target.
import { randomUUID } from 'node:crypto';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CofferError } from '../../../../lib/coded-error.js';
import type { Logger } from '../../../../lib/logger.js';
import type { OsUser } from '../../../../lib/os-user.js';
import type { ProcessRunner } from '../../../../lib/process-runner.js';
import { which } from '../../../../lib/which.js';
import type { ArchiveCapability, ArchiveDatastore } from '../../../archive/archive-datastore.js';
import { archiveTimeoutOf } from '../../../archive/settings-store.js';
import type { Layout } from '../../../layout.js';
import { workRoot } from '../../../scratch.js';
import { parseMariadbPosition } from '../replication/gtid.js';
import type { SqlClient } from '../sql-client.js';
import { BinlogArchiving } from './binlog-archiving.js';
import { BinlogFiles, type BinlogFile } from './binlog-files.js';
import type { ArchivePass, PendingBinlog } from './binlog-archiver.js';
import { binlogPosition, replayBinlogs, type ReplayTarget } from './binlog-replay.js';
import { scanBinlog } from './binlog-scan.js';
import { BINLOG_NAME, binlogTable } from './binlog-table.js';

export interface MysqlArchiveCapability extends ArchiveCapability {
  readonly table: ArchiveDatastore;
  waiting(): Promise<PendingBinlog[]>;
  drive(handOver: (name: string) => Promise<unknown>): BinlogDriver;
}

export interface BinlogDriver {
  stop(): Promise<void>;
  /** A pass now (tests, and ConfigureArchiving, to archive at once). */
  passNow(): Promise<ArchivePass | undefined>;
  readonly last: ArchivePass | undefined;
}

export interface MysqlArchiveDeps {
  readonly sql: SqlClient;
  readonly layout: Layout;
  readonly runner: ProcessRunner;
  readonly log: Logger;
  readonly socket: string;
  readonly mysqlUser: () => OsUser;
  /** Between passes (tests shorten it). */
  readonly pollMs?: number;
  readonly localRetentionSeconds?: number;
}

export function createMysqlArchive(deps: MysqlArchiveDeps): MysqlArchiveCapability {
  const { sql, layout, runner, log } = deps;
  const files = new BinlogFiles(sql);
  let timeoutSeconds: number | undefined;
  const timeout = (): number => (timeoutSeconds ??= archiveTimeoutOf(layout.agentDir));
  let driver: BinlogArchiving | undefined;

  const tool = (what: string, ...names: string[]): string => {
    const p = which(...names);
    if (!p) throw new CofferError('DATASTORE', `${what} is not installed on this instance (looked for ${names.join(', ')})`);
    return p;
  };

  const pendingNow = async (): Promise<PendingBinlog[]> => {
    if (driver?.last) return [...driver.last.pending];
    const listing = await files.list();
    const out: PendingBinlog[] = [];
    for (const f of listing.closed) {
      const s = await stat(f.path).catch(() => undefined);
      out.push({ name: f.name, path: f.path, bytes: s?.size ?? 0, closedAtMs: Math.round(s?.mtimeMs ?? 0) });
    }
    return out;
  };

  return {
    table: binlogTable,
    socketGroup: () => deps.mysqlUser().gid,
    isArchiveName: (name) => BINLOG_NAME.test(name),
    // log_bin = mysql-bin (my.cnf): the files are in the data directory.
    pathOf: (name) => {
      if (!BINLOG_NAME.test(name)) throw new CofferError('INVALID_ARGUMENT', `${JSON.stringify(name.slice(0, 64))} is not a binary log name`);
      return path.join(layout.dataDir, name);
    },

    async describe(_name, file) {
      const s = await scanBinlog(file);
      return { startPosition: s.startState, endPosition: s.endState, timeline: 0, firstCommitMs: s.firstTransactionTime * 1000, lastCommitMs: s.lastTransactionTime * 1000 };
    },

    waiting: pendingNow,

    async localLogBytes() {
      if (driver?.last) return driver.last.localBytes;
      const listing = await files.list();
      let total = 0;
      for (const f of [...listing.closed, listing.active]) total += (await stat(f.path).catch(() => undefined))?.size ?? 0;
      return total;
    },

    // The rotation timer lives in the driver's passes: nothing to render,
    // and nothing that needs a restart.
    async applyArchiving(seconds) {
      timeoutSeconds = seconds;
      if (driver?.running) void driver.passNow();
      return false;
    },

    async beforeReplay() {
      // Nothing before the first start: the binlogs are piped into the running server.
    },

    async replay(target, signal, input) {
      if (!input) throw new CofferError('INTERNAL', 'a MariaDB replay needs the planned binlogs (ReplayInput)');
      const dir = path.join(workRoot(layout), `binlogs-${randomUUID()}`);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      try {
        // Every file fetched (and so verified whole) before the first byte is applied.
        const started = performance.now();
        const staged: string[] = [];
        const times = new Map<string, number>();
        for (const o of input.objects) {
          if (!BINLOG_NAME.test(o.name)) throw new CofferError('INTEGRITY', `the archive catalogue names ${JSON.stringify(o.name.slice(0, 64))}, which is not a binary log`);
          const file = path.join(dir, o.name);
          await writeFile(file, await input.fetch(o.name, signal), { mode: 0o600 });
          await scanBinlog(file, { onGtid: (g, s) => times.set(g, s) });
          staged.push(file);
        }
        const t: ReplayTarget = target.kind === 'time' ? { timeSeconds: target.unixSeconds } : { gtid: target.position };
        const clientProgram = tool('the mariadb client', 'mariadb', 'mysql');
        const fetched = performance.now();
        await replayBinlogs({
          runner, log, signal, files: staged, startPosition: input.startPosition, target: t, socket: deps.socket,
          binlogProgram: tool('mariadb-binlog', 'mariadb-binlog', 'mysqlbinlog'), clientProgram,
        });
        // The replayed transactions keep their GTIDs in this server's binlog.
        const logged = await binlogPosition(runner, clientProgram, deps.socket, signal);
        let timeMs = 0;
        for (const [d, g] of parseMariadbPosition(logged)) timeMs = Math.max(timeMs, (times.get(`${d}-${g.server}-${g.seq}`) ?? 0) * 1000);
        const reached = { position: logged || input.startPosition, timeMs };
        const seconds = (a: number, b: number): number => Math.round(b - a) / 1000;
        log.info({ reached, target, fetchSeconds: seconds(started, fetched), replaySeconds: seconds(fetched, performance.now()) }, 'binary logs replayed to the target');
        return reached;
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },

    drive(handOver) {
      void driver?.stop();
      const d = new BinlogArchiving({
        files, log, pollMs: deps.pollMs, localRetentionSeconds: deps.localRetentionSeconds,
        handOver: (f: BinlogFile) => handOver(f.name),
        archiveTimeoutSeconds: timeout,
      });
      driver = d;
      d.start();
      return {
        stop: async () => {
          await d.stop();
          if (driver === d) driver = undefined;
        },
        passNow: () => d.passNow(),
        get last() {
          return d.last;
        },
      };
    },
  };
}
