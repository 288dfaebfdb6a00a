// Trove's rule for agent reports: for each (instance, message kind), a
// report sent earlier than the last accepted one is dropped, so a delayed
// delivery cannot roll recorded state back. Check and record happen in one
// transaction with the state change they guard.
import type { Db } from '../db/database.js';

export type ReportKind = 'heartbeat' | 'backup_state';

export class LastSeen {
  constructor(private readonly db: Db) {}

  /** Runs `apply` and records sentAt if sentAt is newer than the last accepted; returns whether it was. */
  acceptIfNewer(instanceId: string, kind: ReportKind, sentAt: number, apply: () => void, now = Date.now()): boolean {
    return this.db.transaction(() => {
      const row = this.db.prepare('SELECT sent_at FROM conductor_last_seen WHERE instance_id = ? AND kind = ?').get(instanceId, kind) as
        | { sent_at: number }
        | undefined;
      if (row && sentAt <= row.sent_at) return false;
      this.db
        .prepare(
          `INSERT INTO conductor_last_seen (instance_id, kind, sent_at, received_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (instance_id, kind) DO UPDATE SET sent_at = excluded.sent_at, received_at = excluded.received_at`,
        )
        .run(instanceId, kind, sentAt, now);
      apply();
      return true;
    })();
  }
}
