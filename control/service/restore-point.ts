// A restore point given at instance create (issue 18, docs/pitr.md): the
// backup (backup_id, REST restorePoint.backupRef) and at most one target,
// a time in UTC to the second, a PostgreSQL LSN or a MariaDB/MySQL GTID.
// Parsed here, once, for gRPC, REST and the CLI alike; the agent checks the
// target against what the archive holds before it starts anything, and
// refuses one outside it naming the earliest and latest restorable points.
import type { RestoreTarget } from '../../proto/gen/coffer/agent/v1/archive.js';
import { invalid } from '../errors.js';

export interface RestorePointInput {
  readonly restoreTime?: string;
  readonly restoreLsn?: string;
  readonly restoreGtid?: string;
}

// RFC 3339 in UTC, to the second: "2026-12-02T01:30:00Z" (or +00:00); a
// fraction of a second is refused rather than silently cut.
const TIME = /^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(Z|[+-]00:?00)$/i;
const LSN = /^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/i;
const GTID = /^(?:\d+-\d+-\d+(?:,\d+-\d+-\d+)*|[0-9a-f-]{36}:\d+(?:-\d+)?)$/i;

/** Unix seconds of an RFC 3339 UTC time to the second, or a clear error naming the field. */
export function parseRestoreTime(text: string, field = 'restore_time'): number {
  const m = TIME.exec(text.trim());
  if (!m) throw invalid(`${field} ${JSON.stringify(text.slice(0, 64))} is not a UTC time to the second like 2026-12-02T01:30:00Z`);
  const [, y, mo, d, h, mi, s] = m.map(Number) as unknown as number[];
  const ms = Date.UTC(y!, mo! - 1, d!, h!, mi!, s!);
  const back = new Date(ms);
  if (back.getUTCMonth() !== mo! - 1 || back.getUTCDate() !== d! || h! > 23 || mi! > 59 || s! > 59) throw invalid(`${field} ${text} is not a valid date and time`);
  return ms / 1000;
}

/** The target to send the agent, or undefined when none was given. */
export function restoreTargetOf(p: RestorePointInput, hasBackup: boolean, manager: string): RestoreTarget | undefined {
  const given = [p.restoreTime && 'restore_time', p.restoreLsn && 'restore_lsn', p.restoreGtid && 'restore_gtid'].filter(Boolean) as string[];
  if (given.length === 0) return undefined;
  if (given.length > 1) throw invalid(`give one restore target, not ${given.join(' and ')}`);
  if (!hasBackup) throw invalid(`${given[0]} restores to a point from a backup: give backup_id (REST: restorePoint.backupRef) too`);
  if (p.restoreTime) return { timeUnixSeconds: parseRestoreTime(p.restoreTime) };
  if (p.restoreLsn) {
    if (manager !== 'postgresql') throw invalid(`restore_lsn is a PostgreSQL target; a ${manager} instance is restored to a time or a GTID`);
    if (!LSN.test(p.restoreLsn)) throw invalid(`restore_lsn ${JSON.stringify(p.restoreLsn.slice(0, 64))} is not an LSN like 0/3000060`);
    return { lsn: p.restoreLsn.toUpperCase() };
  }
  if (manager === 'postgresql' || manager === 'redis') throw invalid(`restore_gtid is a MariaDB/MySQL target; a ${manager} instance is restored to a time${manager === 'postgresql' ? ' or an LSN' : ''}`);
  if (!GTID.test(p.restoreGtid!)) throw invalid(`restore_gtid ${JSON.stringify(p.restoreGtid!.slice(0, 64))} is not a GTID like 0-1-42`);
  return { gtid: p.restoreGtid! };
}
