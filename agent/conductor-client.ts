// The agent's side of the conductor: heartbeats with the datastore's state
// every heartbeatMs, sent to coffer-control over mutual TLS with the
// instance's own certificate (the conductor accepts a report only from the
// certificate of the instance it concerns). Each heartbeat carries its send
// time, so the conductor can drop one that arrives after a newer one. The
// answer's source verdict goes to the source fence (replication/fencing.ts),
// with that send time: a lease counts from it. A source holding a lease
// reports three times per lease (at most every heartbeatMs), so one lost
// heartbeat does not cost it its writes and the control can use a lease
// much shorter than the heartbeat expiry to decide a source is gone.
import { readFileSync } from 'node:fs';
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import type { Logger } from '../lib/logger.js';
import { ConductorServiceClient, SourceVerdict, type HeartbeatResponse } from '../proto/gen/coffer/control/v1/conductor.js';
import type { DatastoreState } from '../proto/gen/coffer/agent/v1/lifecycle.js';
import type { ReplicationStatus } from '../proto/gen/coffer/agent/v1/replication_state.js';
import type { ClusterContext } from '../proto/gen/coffer/agent/v1/cluster.js';

/** The control's certificate names it so, whatever address it is reached at. */
const CONTROL_NAME = 'coffer-control';

export interface HeartbeatSource {
  (): Promise<{ state: DatastoreState; reason: string; agentVersion: string; datastorePort: number; replication?: ReplicationStatus; cluster?: ClusterContext }>;
}

/** What the control answered to the heartbeat sent at `sentAtMs`. */
export type HeartbeatAnswer = (res: HeartbeatResponse, sentAtMs: number) => Promise<void>;

export interface ConductorClientOptions {
  readonly instanceId: string;
  readonly host: string;
  readonly port: number;
  readonly heartbeatMs: number;
  readonly tls: Readonly<{ cert: string; key: string; ca: string }>;
  readonly status: HeartbeatSource;
  readonly onAnswer?: HeartbeatAnswer;
  readonly log: Logger;
}

/**
 * - IDLE: constructed, not started.
 * - RUNNING: sending heartbeats.
 * - STOPPED: stop() was called.
 */
export type ConductorClientState = 'IDLE' | 'RUNNING' | 'STOPPED';

export class ConductorClient {
  private readonly client: ConductorServiceClient;
  private timer: NodeJS.Timeout | null = null;
  private state: ConductorClientState = 'IDLE';
  private reachable: boolean | null = null;
  /** The wait before the next heartbeat: heartbeatMs, shorter while a source lease runs. */
  private intervalMs: number;

  constructor(private readonly opts: ConductorClientOptions) {
    this.intervalMs = opts.heartbeatMs;
    const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
    this.client = new ConductorServiceClient(
      `${host}:${opts.port}`,
      credentials.createSsl(readFileSync(opts.tls.ca), readFileSync(opts.tls.key), readFileSync(opts.tls.cert)),
      { 'grpc.ssl_target_name_override': CONTROL_NAME, 'grpc.default_authority': CONTROL_NAME },
    );
  }

  start(): void {
    if (this.state !== 'IDLE') return;
    this.state = 'RUNNING';
    const tick = (): void => {
      void this.heartbeat().finally(() => {
        if (this.state === 'RUNNING') this.timer = setTimeout(tick, this.intervalMs);
      });
    };
    tick();
  }

  stop(): void {
    this.state = 'STOPPED';
    if (this.timer) clearTimeout(this.timer);
    this.client.close();
  }

  private async heartbeat(): Promise<void> {
    try {
      const s = await this.opts.status();
      const sentAtMs = Date.now();
      const res = await this.unary<HeartbeatResponse>('heartbeat', {
        instanceId: this.opts.instanceId,
        sentAtMs,
        state: s.state,
        reason: s.reason,
        agentVersion: s.agentVersion,
        datastorePort: s.datastorePort,
        replication: s.replication,
        cluster: s.cluster,
      });
      if (this.reachable !== true) this.opts.log.info('conductor reachable; heartbeats flowing');
      this.reachable = true;
      this.intervalMs = renewalInterval(this.opts.heartbeatMs, res);
      await this.opts.onAnswer?.(res, sentAtMs).catch((err: Error) => this.opts.log.error({ err: err.message }, 'acting on the heartbeat\'s answer failed'));
    } catch (err) {
      // Logged once per change: an unreachable control must not flood the log.
      if (this.reachable !== false) this.opts.log.warn({ err: (err as Error).message }, 'heartbeat to the conductor failed');
      this.reachable = false;
    }
  }

  private unary<Res>(method: 'heartbeat', req: object): Promise<Res> {
    return new Promise((resolve, reject) => {
      const fn = (this.client as unknown as Record<string, Function>)[method]!.bind(this.client);
      fn(req, new Metadata(), { deadline: Date.now() + 5000 }, (err: ServiceError | null, res: Res) => (err ? reject(err) : resolve(res)));
    });
  }
}

/** The wait before the next heartbeat after this answer: a lease is renewed three times over its length. */
export function renewalInterval(heartbeatMs: number, res: Pick<HeartbeatResponse, 'sourceVerdict' | 'sourceLeaseMs'>): number {
  if (res.sourceVerdict !== SourceVerdict.SOURCE_VERDICT_CONFIRMED || !(res.sourceLeaseMs > 0)) return heartbeatMs;
  return Math.min(heartbeatMs, Math.max(500, Math.floor(res.sourceLeaseMs / 3)));
}
