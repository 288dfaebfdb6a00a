// Restore to a point, PostgreSQL's half: the restored base backup starts in
// archive recovery (recovery.signal) with restore_command fetching each
// segment through the agent, which verifies and decrypts it
// (agent/archive/point-restore.ts), recovery_target_time or
// recovery_target_lsn, and recovery_target_action = promote. The settings
// live in their own included file (conf.ts recoveryTargetConfFile), removed
// once the server has promoted: an instance made a standby later must not
// carry a recovery target.
import { chownSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PointTarget, ReachedPoint } from '../../../archive/archive-datastore.js';
import type { OsUser } from '../../../../lib/os-user.js';
import { confLiteral, recoveryTargetConfFile } from '../conf.js';
import type { PgClient } from '../pg-client.js';
import { restoreCommand } from './commands.js';

const isoSeconds = (unixSeconds: number): string => new Date(unixSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, '+00');

export function renderRecoveryTarget(target: PointTarget, socket: string): string {
  const lines = [
    '# Rendered by coffer-agent for a restore to a point; removed once promoted.',
    `restore_command = ${confLiteral(restoreCommand(socket))}`,
    // The timeline the backup was taken on: the point lies on it.
    "recovery_target_timeline = 'current'",
    target.kind === 'time' ? `recovery_target_time = ${confLiteral(isoSeconds(target.unixSeconds))}` : `recovery_target_lsn = ${confLiteral(target.position)}`,
    // Inclusive: a time target keeps what committed at or before it; an
    // LSN target keeps the record at it.
    'recovery_target_inclusive = on',
    "recovery_target_action = 'promote'",
  ];
  return lines.join('\n') + '\n';
}

export function writeRecoveryTarget(etcDir: string, dataDir: string, target: PointTarget, socket: string, pgUser: OsUser): void {
  const file = recoveryTargetConfFile(etcDir);
  writeFileSync(file, renderRecoveryTarget(target, socket), { mode: 0o640 });
  chownSync(file, 0, pgUser.gid);
  const signal = path.join(dataDir, 'recovery.signal');
  writeFileSync(signal, '', { mode: 0o600 });
  chownSync(signal, pgUser.uid, pgUser.gid);
}

/**
 * Waits until the server has replayed to the target and promoted, then
 * says how far it got (the last replayed LSN and commit time). The caller
 * races this with the server's death and the archive's integrity errors.
 */
export async function awaitPromotion(sql: PgClient, etcDir: string, signal: AbortSignal): Promise<ReachedPoint> {
  for (;;) {
    signal.throwIfAborted();
    const rows = await sql
      .query(
        `SELECT pg_is_in_recovery() AS recovering, pg_last_wal_replay_lsn()::text AS lsn,
                (extract(epoch FROM pg_last_xact_replay_timestamp()) * 1000)::bigint AS t`,
      )
      .catch(() => undefined);
    const r = rows?.[0];
    if (r && r.recovering === false) {
      rmSync(recoveryTargetConfFile(etcDir), { force: true });
      await sql.query('SELECT pg_reload_conf()').catch(() => undefined);
      return { position: String(r.lsn ?? ''), timeMs: Number(r.t ?? 0) };
    }
    await sleep(200, undefined, { signal }).catch(() => undefined);
  }
}
