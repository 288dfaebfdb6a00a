// The commit times a WAL segment holds, read with pg_waldump: the range an
// archived segment records (strategies/archive/layout.ts), from which the
// restorable window's times come. Run by the agent in the background of an
// upload, once per segment, never by archive_command.
import type { ProcessRunner } from '../../../../lib/process-runner.js';
import { text } from 'node:stream/consumers';
import { pgTool } from '../pg-bin.js';

// "desc: COMMIT 2026-12-02 01:30:00.123456 UTC" (also ABORT, and the
// prepared-transaction forms COMMIT_PREPARED / ABORT_PREPARED).
const XACT_TIME = /desc: (?:COMMIT|ABORT)(?:_PREPARED)? (?:\d+: )?(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) UTC/g;

export function commitTimes(waldumpOutput: string): { first: number; last: number } {
  let first = 0;
  let last = 0;
  for (const m of waldumpOutput.matchAll(XACT_TIME)) {
    const ms = Date.parse(`${m[1]!.replace(' ', 'T')}Z`);
    if (!Number.isFinite(ms)) continue;
    if (first === 0) first = ms;
    last = Math.max(last, ms);
  }
  return { first, last };
}

/** First and last commit (or abort) time in the segment at `file`, Unix ms; 0 and 0 when it has none. */
export async function segmentCommitTimes(runner: ProcessRunner, version: string, file: string, signal: AbortSignal): Promise<{ first: number; last: number }> {
  const child = runner.spawn([pgTool(version, 'pg_waldump'), '--rmgr=Transaction', file], { env: { LC_ALL: 'C', TZ: 'UTC' }, signal, logOutput: false });
  const out = child.stdout ? text(child.stdout) : Promise.resolve('');
  // A segment switched early (archive_timeout, pg_switch_wal) ends in
  // zeroes, and a whole one ends where the next file would start: either
  // way pg_waldump reports an error after the last record and exits 1.
  // What it printed before is all there is to read.
  const exit = await child.exited;
  if (exit.signal !== null) throw new Error(`pg_waldump was killed by ${exit.signal}`);
  return commitTimes(await out);
}
