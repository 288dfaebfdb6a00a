import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../lib/logger.js';
import {
  LifecycleServiceService,
  type LifecycleServiceServer,
  type PrepareRequest,
  type PrepareResponse,
} from '../../proto/gen/coffer/agent/v1/lifecycle.js';
import type { Agent } from '../agent.js';
import { AGENT_VERSION } from '../status.js';
import { STATE_TO_PROTO } from '../state.js';
import { CofferError } from '../../lib/coded-error.js';
import { AgentError } from '../errors.js';
import { serverStream, unary } from './handlers.js';
import type { Backups } from '../backup/backups.js';
import type { BackupArtifact } from '../../proto/gen/coffer/agent/v1/backup.js';
import type { RestoreSource } from '../../proto/gen/coffer/agent/v1/lifecycle.js';
import type { Archiving } from '../archive/archiving.js';
import { unimplemented } from '../errors.js';

export function addLifecycleService(server: grpc.Server, agent: Agent, backups: Backups, log: Logger, archiving?: Archiving): void {
  const restoreChain = async (r: RestoreSource): Promise<BackupArtifact[]> => {
    if (!r.location?.location) throw new AgentError('AGENT_ERR_INVALID_ARGUMENT', 'restore.location is required to prepare from a backup');
    try {
      return await backups.chainFromNewest(r.location);
    } catch (err) {
      if (err instanceof CofferError && err.kind !== 'NOT_FOUND') throw err;
      throw new AgentError('AGENT_ERR_NOT_FOUND', `backup at ${r.location.location} (or one of its parents) cannot be read: ${(err as Error).message}`);
    }
  };
  const impl: LifecycleServiceServer = {
    ping: unary(log, 'Ping', async () => ({
      agentVersion: AGENT_VERSION,
      instanceId: agent.config.instanceId,
      datastore: agent.manager.name,
    })),

    getStatus: unary(log, 'GetStatus', async () => {
      const s = await agent.status();
      const archive = archiving ? await archiving.archiver.status().catch(() => undefined) : undefined;
      return { archive, restoredPoint: archiving?.restoredPoint(), ...s, state: STATE_TO_PROTO[s.state] };
    }),

    prepare: serverStream<PrepareRequest, PrepareResponse>(log, 'Prepare', async (req, write, signal) => {
      const op = agent.operations.begin('prepare');
      const onAbort = (): void => op.controller.abort(signal.reason);
      signal.addEventListener('abort', onAbort);
      const emit = (p: { phase: string; message: string; percent: number; bytesDone?: number; bytesTotal?: number; bytesPerSecond?: number }) =>
        write({ progress: { bytesDone: 0, bytesTotal: 0, bytesPerSecond: 0, ...p, operationId: op.id } });
      try {
        // A replica's request is refused before any backup is read.
        if (req.replicaOf) {
          agent.replication.validatePrepare(req.replicaOf, !!req.restore, { databases: req.databases.length, users: req.users.length, rootPassword: !!req.rootPassword });
        }
        // From a backup: find and check the chain before anything is built;
        // its objects are verified and restored inside Prepare.
        const chain = req.restore ? await restoreChain(req.restore) : [];
        const checked = req.restore ? await backups.checkRestore(chain, undefined, req.restore.rewrapped?.keys ?? []) : undefined;
        // To a point: planned (and a target outside the archive refused,
        // naming the window) before anything is built.
        const target = req.restore?.target;
        if (target && req.replicaOf) throw new AgentError('AGENT_ERR_INVALID_ARGUMENT', 'a replica follows its source: it cannot be restored to a point (give replica_of or restore.target, not both)');
        if (target && !archiving) throw unimplemented('restore to a point', agent.manager.name);
        const replay = target && checked ? await archiving!.planReplay(target, chain, req.restore!.archive, signal) : undefined;
        if (replay && checked?.logical) throw new AgentError('AGENT_ERR_INVALID_ARGUMENT', 'restore to a point needs a physical base backup, not a logical dump');
        await agent.prepare(
          {
            datastoreVersion: req.datastoreVersion,
            overrides: req.overrides,
            databases: req.databases,
            users: req.users,
            rootPassword: req.rootPassword,
          },
          emit,
          op,
          checked && replay ? { ...checked, replay } : checked,
          req.replicaOf,
        );
        const s = await agent.status();
        write({ result: { state: STATE_TO_PROTO[s.state], serverVersion: s.serverVersion, datastorePort: s.datastorePort, pendingRestart: s.pendingRestart } });
      } finally {
        signal.removeEventListener('abort', onAbort);
        agent.operations.end(op);
      }
    }),

    start: unary(log, 'Start', async () => ({ state: STATE_TO_PROTO[await agent.start()] })),
    stop: unary(log, 'Stop', async () => ({ state: STATE_TO_PROTO[await agent.stop()] })),
    restart: unary(log, 'Restart', async () => ({ state: STATE_TO_PROTO[await agent.restart()] })),

    // The data volume's filesystem grown online (resize2fs); a plain base
    // directory has nothing to grow and reports the volume as it is.
    resizeFilesystem: unary(log, 'ResizeFilesystem', async () => ({ volume: await agent.resizeFilesystem() })),

    cancelOperation: unary(log, 'CancelOperation', async (req) => {
      if (!req.operationId) throw new AgentError('AGENT_ERR_INVALID_ARGUMENT', 'operation_id is required');
      const cancelled = agent.operations.cancel(req.operationId, 'cancelled by CancelOperation');
      if (!cancelled) throw new AgentError('AGENT_ERR_NOT_FOUND', `no running operation ${req.operationId}`);
      return { cancelled };
    }),
  };
  server.addService(LifecycleServiceService, impl);
}
