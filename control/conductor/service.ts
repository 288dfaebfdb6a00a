// coffer.control.v1.ConductorService: agents report in over mutual TLS.
// Served on its own listener (the conductor address) whose clients must
// present an instance certificate; the API listener takes tokens instead.
import type * as grpc from '@grpc/grpc-js';
import { ConductorServiceService, SourceVerdict, type ConductorServiceServer, type HeartbeatRequest } from '../../proto/gen/coffer/control/v1/conductor.js';
import { startGrpcServer, type CofferServer } from '../../lib/grpc-server.js';
import type { ControlContext } from '../context.js';
import { invalid, toServiceError } from '../errors.js';
import { LastSeen } from './last-seen.js';
import { GroupCommit } from './group-commit.js';
import { peerInstanceId, requireSameInstance } from './peer.js';

export function conductorImplementation(c: ControlContext): ConductorServiceServer {
  const lastSeen = new LastSeen(c.db);
  const recordHeartbeat = c.db.prepare(
    `INSERT INTO instance_heartbeats (instance_id, datastore_state, reason, agent_version, received_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (instance_id) DO UPDATE SET datastore_state = excluded.datastore_state, reason = excluded.reason,
       agent_version = excluded.agent_version, received_at = excluded.received_at`,
  );
  // Heartbeats arriving together are written together; the ordering rule
  // still holds per report, in arrival order, inside the one transaction.
  const heartbeats = new GroupCommit<HeartbeatRequest, boolean>(
    c.db.transaction((reqs: readonly HeartbeatRequest[]) =>
      reqs.map((req) => {
        const now = Date.now();
        if (!lastSeen.acceptInTransaction(req.instanceId, 'heartbeat', req.sentAtMs, now)) return false;
        recordHeartbeat.run(req.instanceId, req.state, req.reason, req.agentVersion, now);
        return true;
      }),
    ),
  );
  return {
    heartbeat: (call, callback) => {
      try {
        requireSameInstance(peerInstanceId(call), call.request.instanceId);
        if (!(call.request.sentAtMs > 0)) throw invalid('sent_at_ms is required');
      } catch (err) {
        callback(toServiceError(err, c.log, 'Heartbeat') as grpc.ServiceError);
        return;
      }
      heartbeats.submit(call.request).then(
        (accepted) => callback(null, { accepted, sourceVerdict: SourceVerdict.SOURCE_VERDICT_UNSPECIFIED, sourceLeaseMs: 0 }),
        (err: unknown) => callback(toServiceError(err, c.log, 'Heartbeat') as grpc.ServiceError),
      );
    },
  };
}

export function startConductorServer(c: ControlContext): Promise<CofferServer> {
  return startGrpcServer({
    host: c.config.conductor.host,
    port: c.config.conductor.port,
    tls: { cert: c.ca.control.cert, key: c.ca.control.key, ca: c.ca.instancesCa.cert },
    register: (server) => server.addService(ConductorServiceService, conductorImplementation(c) as unknown as grpc.UntypedServiceImplementation),
  });
}
