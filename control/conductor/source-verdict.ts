// What the conductor tells an agent that reports itself a source
// (docs/replication.md, "Roles and fencing"):
// - CONFIRMED with the source lease (--source-lease-seconds, at most the
//   heartbeat expiry), to the record's current source of a set (it has live
//   replicas): the control declares a source dead only after that long
//   without a heartbeat, and by then the lease has run out and the agent has
//   stopped taking writes on its own. A replica being
//   promoted (its set PROMOTE or EJECT) is confirmed the same way.
// - CONFIRMED with lease 0 (no limit) to a standalone that still calls
//   itself a source (its last replica was deleted or detached).
// - FENCED to a record the control has fenced (an ejected source), and to
//   an instance the records say is a replica but whose agent says source
//   (a stale source): it is fenced then, and the conductor starts its rejoin.
// - UNSPECIFIED otherwise (replicas, standalones).
import type { Statement } from 'better-sqlite3';
import { SourceVerdict } from '../../proto/gen/coffer/control/v1/conductor.js';
import type { Db } from '../db/database.js';

export interface Verdict {
  verdict: SourceVerdict;
  leaseMs: number;
  /** The record is fenced and no task runs on it: the conductor starts its rejoin. */
  rejoin: boolean;
}

interface Row {
  replica_of: string | null;
  fenced: number;
  task_id: string | null;
  status: string;
  has_replicas: number;
}

const NOTHING: Verdict = { verdict: SourceVerdict.SOURCE_VERDICT_UNSPECIFIED, leaseMs: 0, rejoin: false };

export class SourceVerdicts {
  private readonly select: Statement;
  private readonly fence: Statement;

  constructor(db: Db, private readonly leaseMs: number) {
    this.select = db.prepare(
      `SELECT i.replica_of, i.fenced, i.task_id, i.status,
         EXISTS (SELECT 1 FROM instances r WHERE r.replica_of = i.id AND r.deleted_at IS NULL) AS has_replicas
       FROM instances i WHERE i.id = ? AND i.deleted_at IS NULL`,
    );
    this.fence = db.prepare('UPDATE instances SET fenced = 1, updated_at = ? WHERE id = ?');
  }

  /** Inside the heartbeat's transaction (it may fence a stale source). `role` is what the agent reports. */
  judge(instanceId: string, role: string, now = Date.now()): Verdict {
    const r = this.select.get(instanceId) as Row | undefined;
    if (!r) return NOTHING;
    const fenced = { verdict: SourceVerdict.SOURCE_VERDICT_FENCED, leaseMs: 0, rejoin: r.task_id === null };
    if (r.fenced) return fenced;
    if (role !== 'source') return NOTHING;
    const confirmed = { verdict: SourceVerdict.SOURCE_VERDICT_CONFIRMED, leaseMs: this.leaseMs, rejoin: false };
    if (r.replica_of !== null) {
      // Being promoted: the records name it source at the task's end.
      if (r.task_id !== null && (r.status === 'PROMOTE' || r.status === 'EJECT')) return confirmed;
      // A replica by the records that takes itself for a source.
      this.fence.run(now, instanceId);
      return fenced;
    }
    if (r.has_replicas) return confirmed;
    return { verdict: SourceVerdict.SOURCE_VERDICT_CONFIRMED, leaseMs: 0, rejoin: false };
  }
}
