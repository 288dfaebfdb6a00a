// coffer.agent.v1.ClusterService: decodes each call and hands it to the
// cluster core (cluster/cluster.ts); a datastore without the capability
// answers UNIMPLEMENTED naming it. Install and recovery are tracked
// operations (listed by GetStatus, cancellable by id). Requests carry
// secrets: the handlers never log a request.
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../lib/logger.js';
import {
  ClusterServiceService,
  type ClusterContext,
  type ClusterServiceServer,
  type InstallClusterRequest,
  type InstallClusterResponse,
  type RecoverClusterRequest,
  type RecoverClusterResponse,
} from '../../proto/gen/coffer/agent/v1/cluster.js';
import type { Agent, ProgressEvent } from '../agent.js';
import type { Progress } from '../../proto/gen/coffer/agent/v1/common.js';
import { serverStream, unary } from './handlers.js';

function callSignal(call: grpc.ServerUnaryCall<unknown, unknown>): AbortSignal {
  const controller = new AbortController();
  call.once('cancelled', () => controller.abort(new Error('the client went away')));
  return controller.signal;
}

/** Runs a streamed cluster step as a tracked operation. */
async function tracked(
  agent: Agent,
  kind: string,
  write: (event: { progress?: Progress; context?: ClusterContext }) => void,
  signal: AbortSignal,
  fn: (emit: (p: ProgressEvent) => void, signal: AbortSignal) => Promise<ClusterContext>,
): Promise<void> {
  const op = agent.operations.begin(kind);
  const onAbort = (): void => op.controller.abort(signal.reason);
  signal.addEventListener('abort', onAbort);
  try {
    const context = await fn((p) => {
      op.phase = p.phase;
      write({ progress: { phase: p.phase, message: p.message, percent: p.percent, bytesDone: p.bytesDone ?? 0, bytesTotal: p.bytesTotal ?? 0, bytesPerSecond: 0, operationId: op.id } });
    }, op.controller.signal);
    write({ context });
  } finally {
    signal.removeEventListener('abort', onAbort);
    agent.operations.end(op);
  }
}

export function addClusterService(server: grpc.Server, agent: Agent, log: Logger): void {
  const c = agent.cluster;
  const impl: ClusterServiceServer = {
    installCluster: serverStream<InstallClusterRequest, InstallClusterResponse>(log, 'InstallCluster', async (req, write, signal) => {
      c.validateInstall(req);
      await tracked(agent, 'install-cluster', write, signal, (emit, s) => c.install(req, emit, s));
    }),

    completeCluster: unary(log, 'CompleteCluster', async (req, call) => {
      await c.complete(req.clusterId, callSignal(call));
      return {};
    }),

    getClusterContext: unary(log, 'GetClusterContext', async () => ({ context: await c.context() })),

    getRecoveryPosition: unary(log, 'GetRecoveryPosition', async (_req, call) => ({ position: await c.recoveryPosition(callSignal(call)) })),

    recoverCluster: serverStream<RecoverClusterRequest, RecoverClusterResponse>(log, 'RecoverCluster', async (req, write, signal) => {
      c.capability();
      await tracked(agent, 'recover-cluster', write, signal, (emit, s) => c.recover(req.clusterId, req.bootstrap, req.positions, emit, s));
    }),

    setClusterMembers: unary(log, 'SetClusterMembers', async (req, call) => ({ context: await c.setMembers(req.clusterId, req.members, callSignal(call)) })),

    leaveCluster: unary(log, 'LeaveCluster', async (req, call) => {
      await c.leave(req.clusterId, callSignal(call));
      return {};
    }),
  };
  server.addService(ClusterServiceService, impl);
}
