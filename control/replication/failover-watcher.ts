// Automatic failover (opt-in per replication set: auto_failover on the
// source's row). A source whose lease has run out (no heartbeat for
// --source-lease-seconds; a source reports three times per lease) and whose
// agent does not answer Ping for the grace period (--failover-grace-seconds)
// is ejected by the control itself, with the same fencing as a user's eject
// (control/workflows/replication/eject.ts). Once per outage: a source is
// not ejected again until it has been heard from since.
//
// The agent counts its lease from its heartbeat's send time, which is
// before the control received it (control/conductor/source-verdict.ts), so
// by the time the control judges the source gone, a source that could still
// be written to has fenced itself.
import { agentCall } from '../agent-client.js';
import { withAgent, type ControlContext } from '../context.js';
import type { InstanceRow } from '../store/instances.js';
import { agentLiveness } from '../service/agent-liveness.js';
import { submitEject } from '../workflows/replication/submit.js';

const TICK_MS = 1000;
const PING_TIMEOUT_MS = 2000;

/** What the watcher knows of one source it has seen down. */
interface Outage {
  /** When Ping first failed after the heartbeat expired. */
  unreachableSince: number;
  /** The eject task started for this outage, once started. */
  taskId?: string;
}

export class FailoverWatcher {
  private timer: NodeJS.Timeout | undefined;
  private tick: Promise<void> = Promise.resolve();
  private readonly outages = new Map<string, Outage>();
  private readonly candidates;

  constructor(private readonly c: ControlContext) {
    this.candidates = c.db.prepare(
      `SELECT s.* FROM instances s
        WHERE s.auto_failover = 1 AND s.replica_of IS NULL AND s.fenced = 0 AND s.deleted_at IS NULL AND s.task_id IS NULL
          AND EXISTS (SELECT 1 FROM instances r WHERE r.replica_of = s.id AND r.deleted_at IS NULL AND r.fenced = 0)`,
    );
  }

  start(): void {
    this.timer = setInterval(() => {
      this.tick = this.tick.then(() => this.check()).catch((err: unknown) => this.c.log.error({ err }, 'failover watcher failed'));
    }, TICK_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.tick;
  }

  private async check(): Promise<void> {
    const { c } = this;
    const now = Date.now();
    const seen = new Set<string>();
    for (const s of this.candidates.all() as InstanceRow[]) {
      seen.add(s.id);
      const { heartbeat, reachable } = agentLiveness(c.instances, s.id, c.config.sourceLeaseMs, now);
      // Never heard (still starting): nothing to judge yet.
      if (!heartbeat || reachable) {
        this.outages.delete(s.id);
        continue;
      }
      const outage = this.outages.get(s.id);
      if (outage?.taskId) continue;
      if (await this.answers(s)) {
        this.outages.delete(s.id);
        continue;
      }
      const since = outage?.unreachableSince ?? Date.now();
      if (!outage) this.outages.set(s.id, { unreachableSince: since });
      if (Date.now() - since < c.config.failoverGraceMs) continue;
      try {
        const taskId = submitEject(c, s);
        this.outages.set(s.id, { unreachableSince: since, taskId });
        c.log.warn(
          { instance: s.id, taskId, heartbeatAgeMs: Date.now() - heartbeat.received_at, unreachableMs: Date.now() - since },
          'automatic failover: the source is gone; ejecting it',
        );
      } catch (err) {
        c.log.warn({ instance: s.id, err: (err as Error).message }, 'automatic failover could not start');
      }
    }
    // A source that is no longer a candidate (ejected, deleted, its flag off) is forgotten once heard again.
    for (const [id] of this.outages) {
      if (!seen.has(id) && agentLiveness(c.instances, id, c.config.sourceLeaseMs).reachable) this.outages.delete(id);
    }
  }

  private async answers(s: InstanceRow): Promise<boolean> {
    try {
      await withAgent(this.c, s, (a) => agentCall(a.lifecycle, 'ping', {}, PING_TIMEOUT_MS));
      return true;
    } catch {
      return false;
    }
  }
}
