// pg_rewind: an old primary's data directory made to follow the new source
// again, and what it had that the new source never received.
//
// pg_rewind connects to the new source as the replication role (role.ts:
// the four file-reading functions, not a superuser), over TLS verified
// against the deployment's CA, the password from the passfile. It needs
// the target cleanly shut down, and page checksums or wal_log_hints (initdb
// --data-checksums gives the first). A dry run first finds the point where
// the histories diverged; the target's WAL from there to its last
// checkpoint is what is rewound away, and pg_waldump says whether it holds
// any committed transaction (a cleanly switched-over primary holds only
// its shutdown checkpoint there: nothing lost).
import type { Logger } from '../../../../lib/logger.js';
import type { OsUser } from '../../../../lib/os-user.js';
import type { ProcessRunner } from '../../../../lib/process-runner.js';
import { AgentError } from '../../../errors.js';
import { pgTool } from '../pg-bin.js';
import { parseLsn } from './lsn.js';

const ENV = { LC_ALL: 'C.UTF-8', LC_MESSAGES: 'C' };

export interface RewindContext {
  readonly runner: ProcessRunner;
  readonly version: string;
  readonly dataDir: string;
  readonly pgUser: OsUser;
  readonly log: Logger;
}

export interface ControlData {
  readonly state: string;
  readonly checkpoint: string;
  readonly timeline: number;
}

export async function controlData(ctx: RewindContext, signal: AbortSignal): Promise<ControlData> {
  const { stdout } = await ctx.runner.run([pgTool(ctx.version, 'pg_controldata'), `--pgdata=${ctx.dataDir}`], { uid: ctx.pgUser.uid, gid: ctx.pgUser.gid, env: ENV, signal, timeoutMs: 60_000 });
  const field = (name: string): string => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(stdout)?.[1]?.trim() ?? '';
  return { state: field('Database cluster state'), checkpoint: field('Latest checkpoint location'), timeline: Number(field("Latest checkpoint's TimeLineID")) || 1 };
}

/** "servers diverged at WAL location 0/3000060 on timeline 1", or null for "no rewind required". */
export function parseDivergence(output: string): string | null {
  if (/no rewind required/.test(output)) return null;
  const m = /servers diverged at WAL location ([0-9A-F]+\/[0-9A-F]+) on timeline \d+/.exec(output);
  if (!m) throw new AgentError('AGENT_ERR_DATASTORE', `pg_rewind did not say where the servers diverged: ${output.slice(-2000)}`);
  return m[1]!;
}

/** Commit records in the target's WAL from `from` to `to` on its timeline; -1 when pg_waldump cannot tell. */
async function commitsBetween(ctx: RewindContext, from: string, to: string, timeline: number, signal: AbortSignal): Promise<number> {
  if (parseLsn(to) <= parseLsn(from)) return 0;
  try {
    const { stdout } = await ctx.runner.run(
      [pgTool(ctx.version, 'pg_waldump'), `--path=${ctx.dataDir}/pg_wal`, `--start=${from}`, `--end=${to}`, `--timeline=${timeline}`, '--rmgr=Transaction'],
      { uid: ctx.pgUser.uid, gid: ctx.pgUser.gid, env: ENV, signal, timeoutMs: 600_000 },
    );
    return stdout.split('\n').filter((l) => /desc: COMMIT/.test(l)).length;
  } catch (err) {
    ctx.log.warn({ err: (err as Error).message }, 'pg_waldump could not read the WAL to be rewound away; reporting the whole range');
    return -1;
  }
}

/**
 * Rewinds the stopped, cleanly shut down target to follow the source;
 * `onChange` is called before the first change to the data directory.
 * Returns the LSN range rewound away that held committed transactions
 * ("<divergence>-<end of its WAL>"), '' when none did.
 */
export async function rewind(ctx: RewindContext, sourceConninfo: string, signal: AbortSignal, knownEnd = '', onChange: () => void = () => undefined): Promise<string> {
  const before = await controlData(ctx, signal);
  // A primary's WAL ends with its shutdown checkpoint; a standby's last
  // restartpoint may lie far behind what it received and replayed, which
  // the caller read before stopping it.
  const end = knownEnd && parseLsn(knownEnd) > parseLsn(before.checkpoint) ? knownEnd : before.checkpoint;
  const argv = [pgTool(ctx.version, 'pg_rewind'), `--target-pgdata=${ctx.dataDir}`, `--source-server=${sourceConninfo}`];
  const as = { uid: ctx.pgUser.uid, gid: ctx.pgUser.gid, cwd: '/', env: ENV, signal, timeoutMs: 3_600_000 };
  let dry: string;
  try {
    const r = await ctx.runner.run([...argv, '--dry-run'], as);
    dry = `${r.stdout}\n${r.stderr}`;
  } catch (err) {
    throw new AgentError('AGENT_ERR_DATASTORE', `pg_rewind against the new source failed: ${(err as Error).message}`, { cause: err });
  }
  const divergence = parseDivergence(dry);
  if (divergence === null) {
    ctx.log.info('pg_rewind: no rewind required');
    return '';
  }
  const commits = await commitsBetween(ctx, divergence, end, before.timeline, signal);
  // From here on the data directory is being changed.
  onChange();
  try {
    await ctx.runner.run(argv, as);
  } catch (err) {
    throw new AgentError('AGENT_ERR_DATASTORE', `pg_rewind against the new source failed: ${(err as Error).message}`, { cause: err });
  }
  const range = `${divergence}-${end}`;
  ctx.log.info({ range, commits }, 'rewound the old history away');
  return commits === 0 ? '' : range;
}
