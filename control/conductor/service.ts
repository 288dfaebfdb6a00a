// coffer.control.v1.ConductorService: agents report in over mutual TLS.
// Served on its own listener (the conductor address) whose clients must
// present an instance certificate; the API listener takes tokens instead.
import type * as grpc from '@grpc/grpc-js';
import { ConductorServiceService, SourceVerdict, type ConductorServiceServer, type HeartbeatRequest } from '../../proto/gen/coffer/control/v1/conductor.js';
import { ReplicationStatus } from '../../proto/gen/coffer/agent/v1/replication_state.js';
import { ClusterNodeStatus } from '../../proto/gen/coffer/agent/v1/cluster.js';
import { submitRejoin } from '../workflows/replication/submit.js';
import { SourceVerdicts, type Verdict } from './source-verdict.js';
import { startGrpcServer, type CofferServer } from '../../lib/grpc-server.js';
import type { ControlContext } from '../context.js';
import { invalid, toServiceError } from '../errors.js';
import { LastSeen } from './last-seen.js';
import { GroupCommit } from './group-commit.js';
import { peerInstanceId, requireSameInstance } from './peer.js';

export function conductorImplementation(c: ControlContext): ConductorServiceServer {
  const lastSeen = new LastSeen(c.db);
  // A cluster member's role and slots are kept from its last report made
  // while its datastore ran: a member that is down shows what it was.
  const recordHeartbeat = c.db.prepare(
    `INSERT INTO instance_heartbeats (instance_id, datastore_state, reason, agent_version, received_at, replication, cluster, cluster_role, cluster_slots)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (instance_id) DO UPDATE SET datastore_state = excluded.datastore_state, reason = excluded.reason,
       agent_version = excluded.agent_version, received_at = excluded.received_at, replication = excluded.replication, cluster = excluded.cluster,
       cluster_role = CASE WHEN excluded.cluster_role = '' THEN instance_heartbeats.cluster_role ELSE excluded.cluster_role END,
       cluster_slots = CASE WHEN excluded.cluster_role = '' THEN instance_heartbeats.cluster_slots ELSE excluded.cluster_slots END`,
  );
  const verdicts = new SourceVerdicts(c.db, c.config.sourceLeaseMs);
  const rejoins = new RejoinStarter(c);
  // Heartbeats arriving together are written together; the ordering rule
  // still holds per report, in arrival order, inside the one transaction.
  const heartbeats = new GroupCommit<HeartbeatRequest, { accepted: boolean } & Verdict>(
    c.db.transaction((reqs: readonly HeartbeatRequest[]) =>
      reqs.map((req) => {
        const now = Date.now();
        if (!lastSeen.acceptInTransaction(req.instanceId, 'heartbeat', req.sentAtMs, now)) {
          return { accepted: false, verdict: SourceVerdict.SOURCE_VERDICT_UNSPECIFIED, leaseMs: 0, rejoin: false };
        }
        const replication = req.replication ? JSON.stringify(ReplicationStatus.toJSON(req.replication)) : '';
        const node = req.cluster?.status;
        const cluster = node ? JSON.stringify(ClusterNodeStatus.toJSON(node)) : '';
        const running = node?.running === true;
        recordHeartbeat.run(req.instanceId, req.state, req.reason, req.agentVersion, now, replication, cluster, running ? node.role : '', running ? node.slots : 0);
        return { accepted: true, ...verdicts.judge(req.instanceId, req.replication?.role ?? '', now) };
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
        (r) => {
          if (r.rejoin) rejoins.start(call.request.instanceId);
          callback(null, { accepted: r.accepted, sourceVerdict: r.verdict, sourceLeaseMs: r.leaseMs });
        },
        (err: unknown) => callback(toServiceError(err, c.log, 'Heartbeat') as grpc.ServiceError),
      );
    },
  };
}

/**
 * Starts the rejoin of a fenced instance whose agent reported in: after the
 * answer (the heartbeat's transaction has committed), at most once per
 * RETRY_MS per instance, so a rejoin that fails is tried again later
 * rather than at every heartbeat.
 */
class RejoinStarter {
  private static readonly RETRY_MS = 30_000;
  private readonly last = new Map<string, number>();

  constructor(private readonly c: ControlContext) {}

  start(instanceId: string): void {
    const prev = this.last.get(instanceId);
    if (prev !== undefined && Date.now() - prev < RejoinStarter.RETRY_MS) return;
    setImmediate(() => {
      try {
        const taskId = submitRejoin(this.c, instanceId);
        if (!taskId) return;
        this.last.set(instanceId, Date.now());
        this.c.log.info({ instance: instanceId, taskId }, 'a fenced instance reported in: it rejoins its set as a replica');
      } catch (err) {
        this.c.log.warn({ instance: instanceId, err: (err as Error).message }, 'the rejoin could not start');
      }
    });
  }
}

export function startConductorServer(c: ControlContext): Promise<CofferServer> {
  return startGrpcServer({
    host: c.config.conductor.host,
    port: c.config.conductor.port,
    tls: { cert: c.ca.control.cert, key: c.ca.control.key, ca: c.ca.instancesCa.cert },
    register: (server) => server.addService(ConductorServiceService, conductorImplementation(c) as unknown as grpc.UntypedServiceImplementation),
  });
}
