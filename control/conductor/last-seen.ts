// Trove's rule for agent reports: for each (instance, message kind), a
// report sent earlier than the last accepted one is dropped, so a delayed
// delivery cannot roll recorded state back. Check and record happen in one
// transaction with the state change they guard.
import type { Statement } from 'better-sqlite3';
import type { Db } from '../db/database.js';

export type ReportKind = 'heartbeat';

export class LastSeen {
  // Prepared once: heartbeats are the control's hottest path, and preparing
  // per call cost more than the write itself (docs/performance.md).
  private readonly select: Statement;
  private readonly upsert: Statement;

  constructor(db: Db) {
    this.select = db.prepare('SELECT sent_at FROM conductor_last_seen WHERE instance_id = ? AND kind = ?');
    this.upsert = db.prepare(
      `INSERT INTO conductor_last_seen (instance_id, kind, sent_at, received_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (instance_id, kind) DO UPDATE SET sent_at = excluded.sent_at, received_at = excluded.received_at`,
    );
  }

  /**
   * Checks and records one report inside a transaction the caller already
   * holds (group commit): true if it was newer than the last accepted.
   */
  acceptInTransaction(instanceId: string, kind: ReportKind, sentAt: number, now = Date.now()): boolean {
    const row = this.select.get(instanceId, kind) as { sent_at: number } | undefined;
    if (row && sentAt <= row.sent_at) return false;
    this.upsert.run(instanceId, kind, sentAt, now);
    return true;
  }
}
