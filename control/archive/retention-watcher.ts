// The archive retention pass (issue 18, docs/pitr.md): once an hour, each
// ACTIVE instance that archives is asked to delete what lies outside its
// retention window (the days set with ArchivingService.ConfigureArchiving,
// kept with the agent's archive settings), and never an object a kept
// backup still needs: only objects that end before the oldest kept backup
// of the instance began (its start LSN, its GTID position) and whose last
// commit is older than the window. No backup kept: time alone decides.
import type { BackupMetadata } from '../../proto/gen/coffer/agent/v1/backup.js';
import type { GetArchiveStatusResponse, PruneArchiveResponse } from '../../proto/gen/coffer/agent/v1/archive.js';
import { agentCall } from '../agent-client.js';
import { withAgent, type ControlContext } from '../context.js';
import type { InstanceRow } from '../store/instances.js';
import { managerOf } from '../workflows/replication/datastores.js';

const ARCHIVING_MANAGERS = new Set(['postgresql', 'mariadb', 'mysql']);

/** Where the oldest kept backup of the instance began: objects wholly before it are needed by none. */
export function oldestKeptStart(c: ControlContext, r: InstanceRow, manager: string): { position: string; timeMs: number } | undefined {
  const kept = c.backups
    .list({ project: r.project, admin: false }, 100_000, '', r.id)
    .filter((b) => b.status === 'COMPLETED' && b.artifact)
    .sort((x, y) => x.created_at - y.created_at);
  for (const b of kept) {
    const meta = (JSON.parse(b.artifact!) as { metadata?: BackupMetadata }).metadata;
    const position = manager === 'postgresql' ? meta?.startLsn : meta?.gtidPosition;
    if (position) return { position, timeMs: Number(meta?.createdAtMs ?? b.created_at) };
  }
  return undefined;
}

export class RetentionWatcher {
  private timer: NodeJS.Timeout | undefined;
  private tick: Promise<void> = Promise.resolve();
  /** A day (a test makes it seconds: --archive-retention-day-ms); the pass runs hourly of it. */
  private readonly dayMs: number;

  constructor(private readonly c: ControlContext) {
    this.dayMs = c.config.archiveRetentionDayMs;
  }

  start(): void {
    let running = false;
    this.timer = setInterval(() => {
      // A pass still under way (a slow agent) is not queued behind.
      if (running) return;
      running = true;
      this.tick = this.pass()
        .catch((err: unknown) => this.c.log.error({ err }, 'archive retention pass failed'))
        .finally(() => {
          running = false;
        });
    }, Math.round(this.dayMs / 24));
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.tick;
  }

  /** One pass over every ACTIVE archiving instance; a failing agent is skipped until the next. */
  async pass(now = Date.now()): Promise<void> {
    const rows = this.c.db.prepare("SELECT * FROM instances WHERE status = 'ACTIVE' AND deleted_at IS NULL AND task_id IS NULL").all() as InstanceRow[];
    let archiving = 0;
    let deleted = 0;
    for (const r of rows) {
      const manager = managerOf(this.c, r);
      if (!ARCHIVING_MANAGERS.has(manager)) continue;
      try {
        await withAgent(this.c, r, async (a) => {
          const { status } = await agentCall<GetArchiveStatusResponse>(a.archive, 'getArchiveStatus', {}, 5000);
          if (!status?.enabled || !status.retentionDays) return;
          archiving++;
          const kept = oldestKeptStart(this.c, r, manager);
          const res = await agentCall<PruneArchiveResponse>(a.archive, 'pruneArchive', {
            archive: undefined,
            beforeTimeMs: now - status.retentionDays * this.dayMs,
            beforePosition: kept?.position ?? '',
          }, 60_000);
          deleted += res.deleted;
          if (res.deleted > 0) this.c.log.info({ instance: r.id, deleted: res.deleted, retentionDays: status.retentionDays }, 'archive pruned to its retention window');
        });
      } catch (err) {
        this.c.log.warn({ instance: r.id, err: (err as Error).message }, 'archive retention pass skipped an instance');
      }
    }
    // One line a pass (hourly) that had an archive to look at: when it
    // looked, for an operator (and a test) to see that it ran.
    if (archiving > 0) this.c.log.info({ passAtMs: now, archivingInstances: archiving, deleted }, 'archive retention pass done');
  }
}
