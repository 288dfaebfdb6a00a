// The source lease: a source takes writes only while the control confirms
// it. Each heartbeat answer carries a verdict (conductor.proto): CONFIRMED
// lifts a boot or lease fence and extends the lease to the heartbeat's send
// time plus source_lease_ms (0: no limit); FENCED makes it refuse writes
// until the control changes its role; UNSPECIFIED (a control that predates
// replication, or nothing to say) is no news and the lease keeps counting.
// When the lease runs out with no new confirmation the source fences itself:
// the control declares a source dead only after its heartbeat expired, and
// the lease it grants is that expiry, so a source that can still be written
// to has stopped taking writes before a replica is promoted.
//
// Every setReadOnly of the capability goes through apply(), one at a time,
// computed from the role store when it runs, so the last change wins
// whatever order the lease timer, heartbeats and RPCs come in.
import type { Logger } from '../../lib/logger.js';
import type { ReplicationCapability } from '../managers/manager.js';
import { SourceVerdict } from '../../proto/gen/coffer/control/v1/conductor.js';
import type { FenceReason, ReplicationRole, RoleStore } from './role-store.js';

/** How soon a fence that could not be applied is tried again. */
const LAPSE_RETRY_MS = 1000;

export interface FenceDeps {
  readonly roles: RoleStore;
  readonly capability: ReplicationCapability | undefined;
  readonly log: Logger;
  readonly now?: () => number;
}

/** Writes are refused: an explicit MakeReadOnly, or a fenced source. */
export function refusesWrites(r: Readonly<ReplicationRole>): boolean {
  return r.readOnly || (r.role === 'source' && r.fenced !== null);
}

export class SourceFence {
  /** When the lease ends (ms, agent clock); null: no lease granted, nothing counts down. */
  private leaseUntil: number | null = null;
  /** The send time of the newest heartbeat whose verdict was applied. */
  private lastVerdictSentAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private queue: Promise<void> = Promise.resolve();
  /** What the datastore was last told (null: not told since the agent started). */
  private applied: boolean | null = null;
  private readonly now: () => number;

  constructor(private readonly deps: FenceDeps) {
    this.now = deps.now ?? Date.now;
  }

  /**
   * At boot, synchronously before anything else can run: a source refuses
   * writes until the control confirms it.
   */
  markBoot(): void {
    const r = this.deps.roles.get();
    if (this.deps.capability && r.role === 'source' && r.fenced === null) this.deps.roles.update({ fenced: 'boot' });
  }

  /**
   * At boot, before the datastore starts: the capability is told (it keeps
   * the state, so the start honours it before any client connects).
   */
  async beforeStart(): Promise<void> {
    const r = this.deps.roles.get();
    if (!this.deps.capability || (r.role !== 'source' && !r.readOnly)) return;
    if (refusesWrites(r)) this.deps.log.warn({ role: r.role, fenced: r.fenced, readOnly: r.readOnly }, 'the datastore will refuse writes until the control confirms this source');
    await this.apply(true);
  }

  /**
   * At boot, once the datastore answers: told again what the role store
   * says now. The control's confirmation often comes while the datastore
   * is still starting: the capability then rewrites the option file the
   * running start has already read, and finds no server for the statement,
   * so a source confirmed then would stay read-only.
   */
  async afterStart(): Promise<void> {
    const r = this.deps.roles.get();
    if (!this.deps.capability || (r.role !== 'source' && !r.readOnly)) return;
    await this.apply(true);
  }

  /** What a heartbeat's answer said; `sentAtMs` is when that heartbeat left. */
  async onVerdict(verdict: SourceVerdict, leaseMs: number, sentAtMs: number): Promise<void> {
    const r = this.deps.roles.get();
    if (r.role !== 'source' || !this.deps.capability) return;
    if (verdict === SourceVerdict.SOURCE_VERDICT_UNSPECIFIED) return this.retry();
    if (sentAtMs < this.lastVerdictSentAt) return;
    this.lastVerdictSentAt = sentAtMs;
    if (verdict === SourceVerdict.SOURCE_VERDICT_FENCED) {
      if (r.fenced !== 'control') {
        this.deps.log.warn('the control says another instance is the source: refusing writes');
        this.deps.roles.update({ fenced: 'control' });
      }
      this.leaseUntil = null;
      this.clearTimer();
      return this.apply();
    }
    if (verdict !== SourceVerdict.SOURCE_VERDICT_CONFIRMED) return this.retry();
    // The newest verdict decides (older ones were dropped above): a control
    // that granted "no limit" while the set had no replicas can bound it later.
    this.leaseUntil = leaseMs > 0 ? sentAtMs + leaseMs : Number.POSITIVE_INFINITY;
    if (this.leaseUntil <= this.now()) return this.lapse();
    if (r.fenced === 'boot' || r.fenced === 'lease') {
      this.deps.log.info({ leaseMs }, 'the control confirmed this source: taking writes');
      this.deps.roles.update({ fenced: null });
    }
    this.schedule();
    return this.apply();
  }

  /** The role changed (an RPC): whatever lease the old role had is void. */
  reset(): void {
    this.leaseUntil = null;
    this.clearTimer();
  }

  stop(): void {
    this.clearTimer();
  }

  /**
   * Tells the capability whether to refuse writes, as the role store says
   * now. A replica is never told to accept writes (it refuses them while it
   * follows; promotion and detach make it writable themselves).
   */
  apply(force = false): Promise<void> {
    const run = async (): Promise<void> => {
      const cap = this.deps.capability;
      if (!cap) return;
      const r = this.deps.roles.get();
      const refuse = refusesWrites(r);
      if (!refuse && r.role === 'replica') return;
      if (!force && this.applied === refuse) return;
      await cap.setReadOnly(refuse);
      this.applied = refuse;
    };
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** A setReadOnly that failed earlier (datastore down) is tried again at each heartbeat. */
  private async retry(): Promise<void> {
    await this.apply().catch((err: Error) => this.deps.log.warn({ err: err.message }, 'could not apply the read-only state'));
  }

  private schedule(): void {
    this.clearTimer();
    if (this.leaseUntil === null || !Number.isFinite(this.leaseUntil)) return;
    this.timer = setTimeout(() => void this.lapse(), Math.max(0, this.leaseUntil - this.now()));
    this.timer.unref();
  }

  private async lapse(): Promise<void> {
    const r = this.deps.roles.get();
    if (r.role !== 'source' || this.leaseUntil === null || this.leaseUntil > this.now()) return;
    if (r.fenced === null) {
      this.deps.log.warn('the source lease ran out without a confirmation from the control: refusing writes');
      this.deps.roles.update({ fenced: 'lease' satisfies FenceReason });
    }
    try {
      await this.apply();
    } catch (err) {
      // No heartbeat answer may come to retry it (the control is away): retry here.
      this.deps.log.error({ err: (err as Error).message }, 'could not make the datastore refuse writes after the lease ran out; retrying');
      this.timer = setTimeout(() => void this.lapse(), LAPSE_RETRY_MS);
      this.timer.unref();
    }
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
