// What the control knows of an instance's agent: its last heartbeat, and
// whether that heartbeat is recent enough to call the agent reachable. The
// gRPC and REST views and reset_status all read it here, so they agree.
import type { HeartbeatRow, InstanceStore } from '../store/instances.js';

export interface AgentLiveness {
  /** The last heartbeat, if the agent was ever heard. */
  readonly heartbeat: HeartbeatRow | undefined;
  /** Heard within the expiry (--heartbeat-expiry-seconds, 3 heartbeats by default). */
  readonly reachable: boolean;
}

export function agentLiveness(instances: Pick<InstanceStore, 'heartbeat'>, instanceId: string, expiryMs: number, now = Date.now()): AgentLiveness {
  const heartbeat = instances.heartbeat(instanceId);
  return { heartbeat, reachable: heartbeat !== undefined && now - heartbeat.received_at <= expiryMs };
}
