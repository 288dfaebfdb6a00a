// coffer.agent.v1.LogService: decode, call the guest-log core
// (agent/logs/guest-logs.ts), encode.
import path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../lib/logger.js';
import { LogServiceService, type LogServiceServer } from '../../proto/gen/coffer/agent/v1/logs.js';
import type { Agent } from '../agent.js';
import { GUEST_LOG, GuestLogs } from '../logs/guest-logs.js';
import { LogStores } from '../logs/log-store.js';
import { PublishedStore } from '../logs/published.js';
import { serverStream, unary } from './handlers.js';

/** The agent's own log: its --log-file, else the copy main.ts writes under its own directory. */
export const guestLogFile = (agent: Agent): string => agent.config.logFile ?? agent.layout.guestLogFile;

export function createGuestLogs(agent: Agent, log: Logger): GuestLogs {
  const m = agent.manager;
  return new GuestLogs({
    instanceId: agent.config.instanceId,
    datastore: m.name,
    logs: [...(m.logs ?? []), { name: GUEST_LOG, type: 'SYS', file: guestLogFile(agent) }],
    configuration: m.configuration,
    pendingRestart: () => agent.state.get().pendingRestart,
    markRestartRequired: (names) => agent.markRestartRequired(names),
    requireRunning: (what) => agent.requireRunning(what),
    published: new PublishedStore(path.join(agent.layout.agentDir, 'published-logs.json')),
    stores: new LogStores(agent.config.backup),
    log: log.child({ component: 'logs' }),
  });
}

export function addLogService(server: grpc.Server, agent: Agent, log: Logger): void {
  const logs = createGuestLogs(agent, log);
  const impl: LogServiceServer = {
    listLogs: unary(log, 'ListLogs', async () => ({ logs: logs.list() })),
    tailLog: serverStream(log, 'TailLog', (req, write, signal) => logs.tail(req.name, req.lines, req.follow, signal, (lines) => write({ lines }))),
    publishLog: unary(log, 'PublishLog', async (req) => {
      const r = await logs.publish(req.name, req.storage?.storage ?? '');
      return { log: r.log, location: { storage: r.log.container, location: r.location }, sizeBytes: r.bytes };
    }),
    setLogEnabled: unary(log, 'SetLogEnabled', (req) => logs.setEnabled(req.name, req.enabled)),
    discardLog: unary(log, 'DiscardLog', async (req) => ({ log: await logs.discard(req.name) })),
  };
  server.addService(LogServiceService, impl as unknown as grpc.UntypedServiceImplementation);
}
