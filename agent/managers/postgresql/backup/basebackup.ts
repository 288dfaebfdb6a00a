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
// file against it with pg_verifybackup before the data is swapped in.
import { randomBytes } from 'node:crypto';
import { writeFileSync, rmSync, chownSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream';
import type { Readable } from 'node:stream';
import type { BackupMetadata } from '../../../../proto/gen/coffer/agent/v1/backup.js';
import { AgentError } from '../../../errors.js';
import type { BackupSource } from '../../manager.js';
import { pgTool } from '../pg-bin.js';
import { feedTool, toolFailure } from './child-io.js';
import { clientArgs, TOOL_ENV, type PgBackupContext } from './context.js';
import { dropStaging, freshStaging, requireStopped, swapIn } from './staging.js';
import { parseLabel, parseManifestTail, TarInspector } from './tar-inspector.js';

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
  ];
  const child = ctx.runner.spawn(argv, { stdout: 'pipe', logOutput: false, env: { ...TOOL_ENV } });
  const inspector = new TarInspector();
  const onAbort = (): void => child.signalGroup('SIGTERM');
  signal.addEventListener('abort', onAbort, { once: true });
  // The consumer going away (the pipeline destroys the stream) stops the tool.
  pipeline(child.stdout!, inspector, (err) => {
    if (err) child.signalGroup('SIGTERM');
  });
  inspector.on('close', () => {
    if (child.running) child.signalGroup('SIGTERM');
  });
  const finished = new Promise<void>((resolve, reject) => {
    inspector.once('finish', resolve);
    inspector.once('error', reject);
    inspector.once('close', () => reject(new Error('the backup stream was closed before its end')));
  });
  finished.catch(() => undefined); // awaited in done; no unhandled rejection if the stream dies first

  const done = (async (): Promise<Partial<BackupMetadata>> => {
    try {
      const exit = await child.exited;
      if (signal.aborted) throw new AgentError('AGENT_ERR_CANCELLED', 'pg_basebackup was cancelled');
      if (exit.code !== 0) throw toolFailure('pg_basebackup', exit, child);
      await finished;
      const start = inspector.found.label ? parseLabel(inspector.found.label) : null;
      const stop = inspector.found.manifestTail ? parseManifestTail(inspector.found.manifestTail) : null;
      if (!start || !stop) throw new AgentError('AGENT_ERR_DATASTORE', 'pg_basebackup wrote no backup_label or backup_manifest into its tar');
      return {
        startLsn: start.startLsn,
        startWal: start.startWal,
        stopLsn: stop.stopLsn,
        stopWal: await walFile(stop.stopLsn),
        extra: { timeline: start.timeline, wal_method: 'fetch', format: 'tar', manifest: 'backup_manifest' },
      };
    } finally {
      signal.removeEventListener('abort', onAbort);
      release();
      await session.catch(() => undefined);
    }
  })();
  done.catch(() => undefined); // the caller awaits it; no unhandled rejection meanwhile
  return { stream: inspector, done };
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
    await feedTool(runner, ['tar', '--extract', '--file=-', `--directory=${staging}`, '--preserve-permissions', '--no-same-owner'], await open(), signal, as);
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
    swapIn(layout, pgUser);
  } catch (err) {
    dropStaging(layout);
    throw err;
  }
}
