// The physical strategy: pg_basebackup as one tar on stdout.
//
// With `-D - -Ft` PostgreSQL 15 allows only `-X fetch` or `-X none` for the
// WAL (`-X stream` needs a second file, pg_wal.tar) and only a cluster
// without extra tablespaces (one tar). `-X none` would make the backup
// useless without a WAL archive, so this is `-X fetch`: the WAL from the
// backup's start to its end is fetched at the end and included in the tar,
// and the backup restores on its own. Fetching at the end needs that WAL to
// still exist; a temporary replication slot, held by the agent's session
// for exactly the backup's duration, keeps the server from recycling it (and
// vanishes with the session if the agent dies, so it cannot pin WAL forever).
// pg_basebackup adds its backup_manifest to the tar; restore checks every
// file against it with pg_verifybackup before the data is swapped in. The
// tar goes from pg_basebackup to zstd without passing through the agent
// (lib/fd-handoff.ts); the WAL positions come from --verbose.
import { randomBytes } from 'node:crypto';
import { writeFileSync, rmSync, chownSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { AgentError } from '../../../errors.js';
import type { BackupSource } from '../../manager.js';
import { pgTool } from '../pg-bin.js';
import { feedTool, spawnToolSource } from '../../../../strategies/backup/tool-io.js';
import { clientArgs, TOOL_ENV, type PgBackupContext } from './context.js';
import { dropStaging, freshStaging, requireStopped, swapIn } from './staging.js';

export async function basebackupSource(ctx: PgBackupContext, signal: AbortSignal): Promise<BackupSource> {
  const slot = `coffer_backup_${randomBytes(6).toString('hex')}`;
  let slotHeld!: () => void;
  let release!: () => void;
  const held = new Promise<void>((r) => (slotHeld = r));
  const released = new Promise<void>((r) => (release = r));
  let walFile: (lsn: string) => Promise<string> = async () => '';
  const session = ctx.sql.session('postgres', async (q) => {
    // (name, immediately_reserve, temporary)
    await q('SELECT pg_create_physical_replication_slot($1, true, true)', [slot]);
    walFile = async (lsn) => String((await q('SELECT pg_walfile_name($1::pg_lsn) AS f', [lsn]))[0]?.f ?? '');
    slotHeld();
    await released;
  });
  await Promise.race([held, session]);

  const argv = [
    pgTool(ctx.version, 'pg_basebackup'),
    ...clientArgs(ctx.layout.runDir, ctx.port),
    '--pgdata=-',
    '--format=tar',
    '--wal-method=fetch',
    // An on-demand backup should start now, not after a spread checkpoint
    // of up to checkpoint_timeout * checkpoint_completion_target.
    '--checkpoint=fast',
    '--label=coffer',
    // Reports the WAL start and end points on stderr (see parseVerboseReport).
    '--verbose',
  ];
  const releaseSlot = async (): Promise<void> => {
    release();
    await session.catch(() => undefined);
  };
  // stderr (the --verbose report) is kept as the tail. The stream is the
  // tool's stdout, which the pipeline hands to zstd directly.
  try {
    return spawnToolSource(ctx.runner, argv, {
      env: { ...TOOL_ENV },
      signal,
      finish: async (child) => {
        const report = parseVerboseReport(child.outputTail());
        if (!report) throw new AgentError('AGENT_ERR_DATASTORE', `pg_basebackup did not report its write-ahead log start and end points: ${child.outputTail()}`);
        return {
          startLsn: report.startLsn,
          startWal: await walFile(report.startLsn),
          stopLsn: report.stopLsn,
          stopWal: await walFile(report.stopLsn),
          extra: { timeline: report.timeline, wal_method: 'fetch', format: 'tar', manifest: 'backup_manifest' },
        };
      },
      cleanup: releaseSlot,
    });
  } catch (err) {
    await releaseSlot();
    throw err;
  }
}

/**
 * The positions pg_basebackup --verbose reports (messages in the C locale,
 * TOOL_ENV): "write-ahead log start point: 0/2000028 on timeline 1" and
 * "write-ahead log end point: 0/2000100". They are what backup_label and
 * the manifest's WAL range hold, read without the agent having to parse
 * the tar on its way to the compressor.
 */
export function parseVerboseReport(stderr: string): { startLsn: string; timeline: string; stopLsn: string } | null {
  const start = /write-ahead log start point: ([0-9A-F]+\/[0-9A-F]+) on timeline (\d+)/.exec(stderr);
  const stop = /write-ahead log end point: ([0-9A-F]+\/[0-9A-F]+)/.exec(stderr);
  return start && stop ? { startLsn: start[1]!, timeline: start[2]!, stopLsn: stop[1]! } : null;
}

export async function basebackupRestore(ctx: PgBackupContext, open: () => Promise<Readable>, signal: AbortSignal): Promise<void> {
  const { layout, runner, version } = ctx;
  requireStopped(layout.dataDir);
  const pgUser = ctx.pgUser();
  const as = { uid: pgUser.uid, gid: pgUser.gid, cwd: layout.baseDir, env: { ...TOOL_ENV } };
  const staging = freshStaging(layout, pgUser);
  try {
    // As the postgres OS user: whatever the archive holds can reach no
    // further than that user's rights. GNU tar refuses ".." members and
    // strips leading "/"; -p keeps pg_basebackup's 0600/0700 modes.
    await feedTool(runner, ['tar', '--extract', '--file=-', `--directory=${staging}`, '--preserve-permissions', '--no-same-owner'], await open(), signal, { ...as, stdout: 'pipe' });
    try {
      await runner.run([pgTool(version, 'pg_verifybackup'), '--quiet', staging], { ...as, signal, timeoutMs: 3_600_000 });
    } catch (err) {
      throw new AgentError('AGENT_ERR_INTEGRITY', `the backup failed verification against its manifest; nothing was restored: ${(err as Error).message}`, { cause: err });
    }
    rmSync(path.join(staging, 'backup_manifest'), { force: true });
    // The instance's configuration belongs to the instance, not to the
    // backup: the source's ALTER SYSTEM settings are dropped, and the
    // agent's rendered postgresql.conf (this instance's overrides) applies.
    const autoConf = path.join(staging, 'postgresql.auto.conf');
    writeFileSync(autoConf, '# Do not edit this file manually!\n# It will be overwritten by the ALTER SYSTEM command.\n', { mode: 0o600 });
    chownSync(autoConf, pgUser.uid, pgUser.gid);
    // A replica's data (its source configured before the restore) starts
    // as a standby from its very first start: started without the signal,
    // it would end recovery and write WAL of its own, diverging from the
    // source it is to follow.
    if (ctx.replication?.get().source) ctx.replication.writeStandbySignal(staging);
    swapIn(layout, pgUser);
  } catch (err) {
    dropStaging(layout);
    throw err;
  }
}
