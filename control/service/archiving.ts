// Point-in-time recovery on the control's side (issue 18, docs/pitr.md):
// archiving turned on or off through the instance's agent, and the
// restorable window the views show, read from the agent (its archive) and
// the backups the control keeps (the oldest one the archive continues
// from gives the earliest point).
import type { ArchiveStatus, GetArchiveStatusResponse, GetRestorableWindowResponse, RestorableWindow } from '../../proto/gen/coffer/agent/v1/archive.js';
import type { BackupMetadata } from '../../proto/gen/coffer/agent/v1/backup.js';
import { agentCall, relayAgentError } from '../agent-client.js';
import { withAgent, type ControlContext } from '../context.js';
import { conflict, invalid } from '../errors.js';
import type { InstanceRow } from '../store/instances.js';
import type { Caller } from './caller.js';
import { findInstance } from './instances.js';
import { parseRestoreTime } from './restore-point.js';
import { managerOf } from '../workflows/replication/datastores.js';

/** Datastores whose agents archive (the agent answers UNIMPLEMENTED for others). */
const ARCHIVING_MANAGERS = new Set(['postgresql', 'mariadb', 'mysql']);

export interface ConfigureArchivingInput {
  readonly instanceId: string;
  readonly enabled: boolean;
  readonly retentionDays: number;
  readonly archiveTimeoutSeconds: number;
}

export const DEFAULT_RETENTION_DAYS = 7;
export const MAX_RETENTION_DAYS = 35;

export async function configureArchiving(c: ControlContext, caller: Caller, req: ConfigureArchivingInput): Promise<{ row: InstanceRow; status: ArchiveStatus | undefined }> {
  const r = findInstance(c, caller, req.instanceId);
  const days = req.retentionDays || DEFAULT_RETENTION_DAYS;
  if (!Number.isInteger(days) || days < 1 || days > MAX_RETENTION_DAYS) throw invalid(`retention_days must be 1 to ${MAX_RETENTION_DAYS}, not ${req.retentionDays}`);
  if (r.status !== 'ACTIVE') throw conflict(`instance ${r.id} is ${r.status}; archiving can be configured only when it is ACTIVE`);
  try {
    const res = await withAgent(c, r, (a) =>
      agentCall<{ status?: ArchiveStatus }>(a.archive, 'configureArchiving', {
        enabled: req.enabled,
        settings: { storage: undefined, keyId: '', archiveTimeoutSeconds: req.archiveTimeoutSeconds, parallelism: 0, compression: '', retentionDays: req.enabled ? days : 0 },
      }),
    );
    c.log.info({ instance: r.id, enabled: req.enabled, retentionDays: days }, 'archiving configured');
    return { row: r, status: res.status };
  } catch (err) {
    throw relayAgentError(err);
  }
}

/**
 * The instance's archiving status and restorable window from its agent, or
 * undefined for both when it does not archive or does not answer within a
 * short deadline (a view must not hang on an agent).
 */
export async function archiveView(c: ControlContext, r: InstanceRow, manager: string): Promise<{ archiving?: ArchiveStatus; window?: RestorableWindow }> {
  if (!ARCHIVING_MANAGERS.has(manager) || r.status !== 'ACTIVE') return {};
  try {
    return await withAgent(c, r, async (a) => {
      const { status } = await agentCall<GetArchiveStatusResponse>(a.archive, 'getArchiveStatus', {}, 1500);
      if (!status?.enabled) return { archiving: status };
      // The oldest kept backup the archive continues from gives the earliest point.
      const backups = c.backups
        .list({ project: r.project, admin: false }, 1000, '', r.id)
        .filter((b) => b.status === 'COMPLETED' && b.artifact)
        .sort((x, y) => x.created_at - y.created_at);
      for (const b of backups) {
        const meta = (JSON.parse(b.artifact!) as { metadata?: BackupMetadata }).metadata;
        const end = manager === 'postgresql' ? meta?.stopLsn : meta?.gtidPosition;
        if (!end) continue;
        const { window } = await agentCall<GetRestorableWindowResponse>(a.archive, 'getRestorableWindow', {
          archive: undefined,
          backupEndPosition: end,
          backupEndTimeMs: Number(meta?.extra?.end_time_ms ?? 0) || Number(meta?.createdAtMs ?? 0),
        }, 3000);
        if (window && window.latestTimeMs > 0) return { archiving: status, window };
      }
      return { archiving: status };
    });
  } catch {
    return {};
  }
}

const isoSecond = (ms: number): string => (ms > 0 ? new Date(ms).toISOString().replace('.000Z', 'Z') : 'none');
const lsnNumber = (lsn: string): bigint => {
  const [hi, lo] = lsn.split('/');
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
};

/**
 * Before an instance is built for a restore to a point: the window of the
 * backup's instance's archive, asked of its agent, and a target outside it
 * refused at once, naming the earliest and latest restorable points. When
 * that agent cannot say (gone, not ACTIVE, another datastore's target),
 * nothing is refused here: the new instance's agent checks again before it
 * starts anything.
 */
export async function checkRestoreWindow(c: ControlContext, caller: Caller, req: { backupId?: string; restoreTime?: string; restoreLsn?: string; restoreGtid?: string }): Promise<void> {
  if (!req.backupId || !(req.restoreTime || req.restoreLsn)) return;
  const b = c.backups.get(req.backupId, caller);
  if (!b?.artifact) return;
  const source = c.instances.get(b.instance_id);
  if (!source || source.status !== 'ACTIVE') return;
  const manager = managerOf(c, source);
  if (!ARCHIVING_MANAGERS.has(manager)) return;
  const meta = (JSON.parse(b.artifact) as { metadata?: BackupMetadata }).metadata;
  const end = manager === 'postgresql' ? meta?.stopLsn : meta?.gtidPosition;
  if (!end) return;
  let window: RestorableWindow | undefined;
  try {
    window = await withAgent(c, source, async (a) =>
      (await agentCall<GetRestorableWindowResponse>(a.archive, 'getRestorableWindow', {
        archive: undefined,
        backupEndPosition: end,
        backupEndTimeMs: Number(meta?.extra?.end_time_ms ?? 0) || Number(meta?.createdAtMs ?? 0),
      }, 5000)).window,
    );
  } catch {
    return;
  }
  if (!window) return;
  const span = `restorable from ${isoSecond(window.earliestTimeMs)} to ${isoSecond(window.latestTimeMs)} (${manager === 'postgresql' ? 'LSN' : 'GTID'} ${window.earliestPosition || 'none'} to ${window.latestPosition || 'none'})`;
  if (req.restoreTime) {
    const ms = parseRestoreTime(req.restoreTime) * 1000;
    if (window.latestTimeMs === 0 || ms < window.earliestTimeMs || ms > window.latestTimeMs) {
      throw invalid(`restore_time ${isoSecond(ms)} is outside the archive of backup ${b.id}'s instance: ${span}`);
    }
  } else if (req.restoreLsn && manager === 'postgresql' && window.latestPosition && /^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/i.test(req.restoreLsn)) {
    const lsn = lsnNumber(req.restoreLsn);
    if (lsn < lsnNumber(window.earliestPosition) || lsn >= lsnNumber(window.latestPosition)) {
      throw invalid(`restore_lsn ${req.restoreLsn} is outside the archive of backup ${b.id}'s instance: ${span}`);
    }
  }
}
