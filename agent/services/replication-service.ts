// coffer.agent.v1.ReplicationService: decodes each call and hands it to the
// replication core (replication/replication.ts); a datastore without the
// capability answers UNIMPLEMENTED naming it. The snapshot is a tracked
// operation (listed by GetStatus, cancellable by id) through the agent's
// own backup path.
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../lib/logger.js';
import {
  ReplicationServiceService,
  type GetReplicaSnapshotRequest,
  type GetReplicaSnapshotResponse,
  type ReplicationServiceServer,
} from '../../proto/gen/coffer/agent/v1/replication.js';
import type { Agent } from '../agent.js';
import type { Backups } from '../backup/backups.js';
import { serverStream, unary } from './handlers.js';

/** A unary call's signal: aborted when the client goes away. */
function callSignal(call: grpc.ServerUnaryCall<unknown, unknown>): AbortSignal {
  const controller = new AbortController();
  call.once('cancelled', () => controller.abort(new Error('the client went away')));
  return controller.signal;
}

export function addReplicationService(server: grpc.Server, agent: Agent, backups: Backups, log: Logger): void {
  const r = agent.replication;
  const impl: ReplicationServiceServer = {
    getReplicaSnapshot: serverStream<GetReplicaSnapshotRequest, GetReplicaSnapshotResponse>(log, 'GetReplicaSnapshot', async (req, write, signal) => {
      r.capability();
      const op = agent.operations.begin('replica-snapshot');
      const onAbort = (): void => op.controller.abort(signal.reason);
      signal.addEventListener('abort', onAbort);
      try {
        const snapshot = await r.snapshot(
          req,
          (input, onProgress, s) => backups.create(input, onProgress, s),
          (p) => {
            op.phase = p.phase;
            write({ progress: { ...p, percent: 0, operationId: op.id } });
          },
          op.controller.signal,
        );
        write({ snapshot });
      } finally {
        signal.removeEventListener('abort', onAbort);
        agent.operations.end(op);
      }
    }),

    addReplicaAccess: unary(log, 'AddReplicaAccess', async (req) => ({ sources: await r.addReplicaAccess(req.replicas) })),

    removeReplicaAccess: unary(log, 'RemoveReplicaAccess', async (req) => {
      await r.removeReplicaAccess(req.replicaId);
      return {};
    }),

    attachReplica: unary(log, 'AttachReplica', async (req, call) => ({ status: await r.attach(req.source, callSignal(call)) })),

    detachReplica: unary(log, 'DetachReplica', async (_req, call) => ({ status: await r.detach(callSignal(call)) })),

    makeReadOnly: unary(log, 'MakeReadOnly', async (req) => ({ transactionId: await r.makeReadOnly(req.readOnly) })),

    enableAsSource: unary(log, 'EnableAsSource', async (_req, call) => ({ transactionId: await r.enableAsSource(callSignal(call)) })),

    demoteSource: unary(log, 'DemoteSource', async (req, call) => r.demote(req.source, callSignal(call))),

    getLatestTransactionId: unary(log, 'GetLatestTransactionId', async () => ({ transactionId: await r.latestTransactionId() })),

    waitForTransaction: unary(log, 'WaitForTransaction', async (req, call) => r.waitForTransaction(req.transactionId, req.timeoutSeconds, callSignal(call))),

    getReplicationStatus: unary(log, 'GetReplicationStatus', async () => {
      r.capability();
      return { status: await r.status() };
    }),
  };
  server.addService(ReplicationServiceService, impl);
}
