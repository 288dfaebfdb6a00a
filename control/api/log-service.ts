// coffer.control.v1.LogService: an instance's guest logs, over the service
// layer (control/service/logs.ts).
import type * as grpc from '@grpc/grpc-js';
import { LogServiceService, type LogServiceServer } from '../../proto/gen/coffer/control/v1/logs.js';
import type { ControlContext } from '../context.js';
import * as svc from '../service/logs.js';
import { serverStream, unary } from './handlers.js';

export function addLogService(server: grpc.Server, c: ControlContext): void {
  const deps = { db: c.db, log: c.log };
  const impl: LogServiceServer = {
    listLogs: unary(deps, 'ListLogs', async (req, scope) => ({ logs: await svc.listLogs(c, scope, req.instanceId) })),
    logAction: unary(deps, 'LogAction', async (req, scope) => ({ log: await svc.logAction(c, scope, req.instanceId, req) })),
    tailLog: serverStream(deps, 'TailLog', (req, scope, write, signal) => svc.tailLog(c, scope, req.instanceId, req, (lines) => write({ lines }), signal)),
  };
  server.addService(LogServiceService, impl as unknown as grpc.UntypedServiceImplementation);
}
