// Replays binary logs into the running server, from a backup's GTID
// position up to a target, the way an operator would by hand:
//
//   mariadb-binlog --start-position=<backup's GTID position>
//                  [--stop-datetime=<target + 1 s> | --stop-position=<GTID>]
//                  file1 file2 ...  |  mariadb --binary-mode
//
// The files are local copies already verified (decrypted, every frame and
// the checksum checked) by the caller: nothing here reads the archive. The
// bytes go from mariadb-binlog to the client through an OS pipe, never
// through the agent. The client logs in as the OS root over the unix socket
// (unix_socket authentication, as secure() does): no password anywhere, and
// it works right after a physical restore, before the agent's own account
// is re-keyed (the restored grant tables are the source's).
//
// Targets:
// - a time (UTC, whole seconds) is inclusive: every event stamped at or
//   before it is applied. mariadb-binlog stops at the first event stamped
//   at or after --stop-datetime, which is read in the local time zone: it
//   runs with TZ=UTC and target + 1 s.
// - a GTID is inclusive: --stop-position with a GTID list applies up to and
//   including it.
// A transaction cut by the stop (a statement of it stamped after the time)
// never reaches its COMMIT, and the client's end rolls it back.
import path from 'node:path';
import { CofferError } from '../../../../lib/coded-error.js';
import type { Logger } from '../../../../lib/logger.js';
import type { ProcessRunner } from '../../../../lib/process-runner.js';
import { DEFAULT_KILL_AFTER_MS, reasonOf, toolFailure } from '../../../../strategies/backup/tool-io.js';
import { parseMariadbPosition } from '../replication/gtid.js';

/** Where a replay stops: exactly one of the two. */
export type ReplayTarget = { readonly timeSeconds: number; readonly gtid?: undefined } | { readonly gtid: string; readonly timeSeconds?: undefined };

export interface BinlogReplayOptions {
  readonly runner: ProcessRunner;
  readonly log: Logger;
  /** mariadb-binlog and the mariadb client. */
  readonly binlogProgram: string;
  readonly clientProgram: string;
  readonly socket: string;
  /** Verified local copies, oldest first, one unbroken run. */
  readonly files: readonly string[];
  /** The backup's GTID position: only what follows it is applied ('' applies every file from its start). */
  readonly startPosition: string;
  readonly target: ReplayTarget;
  readonly signal: AbortSignal;
  readonly killAfterMs?: number;
}

/** "YYYY-MM-DD HH:MM:SS" in UTC. */
export function utcDatetime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

/** mariadb-binlog's arguments for a replay (exported for the test of what it is told). */
export function binlogArgv(program: string, files: readonly string[], startPosition: string, target: ReplayTarget): string[] {
  if (files.length === 0) throw new CofferError('INVALID_ARGUMENT', 'no binary logs to replay');
  // Both are checked here too: they become arguments of a program.
  if (startPosition) parseMariadbPosition(startPosition);
  let stop: string;
  if (target.gtid !== undefined) {
    parseMariadbPosition(target.gtid);
    stop = `--stop-position=${target.gtid}`;
  } else {
    if (!Number.isSafeInteger(target.timeSeconds) || target.timeSeconds < 0) throw new CofferError('INVALID_ARGUMENT', `target time ${target.timeSeconds} is not whole seconds since the epoch`);
    stop = `--stop-datetime=${utcDatetime(target.timeSeconds + 1)}`;
  }
  return [
    program,
    '--no-defaults',
    ...(startPosition ? [`--start-position=${startPosition}`] : []),
    stop,
    // Paths, never options: each is absolute.
    ...files.map((f) => {
      if (!path.isAbsolute(f)) throw new CofferError('INTERNAL', `binary log path ${f} is not absolute`);
      return f;
    }),
  ];
}

/** The server's binlog GTID position, read the same way (as the OS root over the socket). */
export async function binlogPosition(runner: ProcessRunner, clientProgram: string, socket: string, signal: AbortSignal): Promise<string> {
  const r = await runner.run([clientProgram, '--no-defaults', `--socket=${socket}`, '--user=root', '--batch', '--skip-column-names', '-e', 'SELECT @@GLOBAL.gtid_binlog_pos'], { signal, timeoutMs: 30_000 });
  return r.stdout.trim();
}

/** Runs the replay; resolves once both programs exited 0. */
export async function replayBinlogs(o: BinlogReplayOptions): Promise<void> {
  const { runner, log, signal } = o;
  const killAfterMs = o.killAfterMs ?? DEFAULT_KILL_AFTER_MS;
  if (signal.aborted) throw new CofferError('CANCELLED', `the binary log replay was cancelled: ${reasonOf(signal)}`);
  const dump = binlogArgv(o.binlogProgram, o.files, o.startPosition, o.target);
  const client = [
    o.clientProgram,
    '--no-defaults',
    `--socket=${o.socket}`,
    '--user=root',
    '--batch',
    // mariadb-binlog's output may carry any byte (row images in BINLOG statements).
    '--binary-mode',
  ];
  log.info({ files: o.files.map((f) => path.basename(f)), start: o.startPosition, target: o.target }, 'replaying binary logs');
  // --stop-datetime is read in the local time zone: make that UTC.
  const reader = runner.spawn(dump, { env: { TZ: 'UTC' }, stdout: 'pipe', logOutput: false, signal, killAfterMs });
  // Handed over before the event loop runs, so no byte is read here.
  const writer = runner.spawn(client, { stdin: reader, stdout: 'ignore', signal, killAfterMs });
  const [readExit, writeExit] = await Promise.all([reader.exited, writer.exited]);
  if (signal.aborted) throw new CofferError('CANCELLED', `the binary log replay was cancelled: ${reasonOf(signal)}`);
  // The client's reason first: when it fails, mariadb-binlog dies of the broken pipe.
  if (writeExit.code !== 0) throw toolFailure(writer, writeExit, 'applying the binary logs');
  if (readExit.code !== 0) throw toolFailure(reader, readExit, 'reading the binary logs');
}
