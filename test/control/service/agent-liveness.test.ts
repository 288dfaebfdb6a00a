// An agent is reachable when its last heartbeat is within the expiry; the
// gRPC and REST views and reset_status read this one answer.
import t from 'tap';
import { agentLiveness } from '../../../control/service/agent-liveness.js';
import type { HeartbeatRow } from '../../../control/store/instances.js';

const store = (received_at?: number) => ({
  heartbeat: (): HeartbeatRow | undefined => (received_at === undefined ? undefined : ({ instance_id: 'i', datastore_state: 2, reason: '', agent_version: '1', received_at } as HeartbeatRow)),
});

t.test('reachable within the expiry, not after, not when never heard', async (t) => {
  const now = 1_000_000;
  t.equal(agentLiveness(store(), 'i', 3000, now).reachable, false, 'never heard: unreachable');
  t.equal(agentLiveness(store(), 'i', 3000, now).heartbeat, undefined, 'and no heartbeat');
  t.equal(agentLiveness(store(now - 3000), 'i', 3000, now).reachable, true, 'heard exactly at the expiry: reachable');
  t.equal(agentLiveness(store(now - 3001), 'i', 3000, now).reachable, false, 'heard before it: unreachable');
  t.equal(agentLiveness(store(now - 3001), 'i', 3000, now).heartbeat?.received_at, now - 3001, 'the last heartbeat is still given (last seen)');
});
