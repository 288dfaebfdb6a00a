// What GetStatus reports: the lifecycle state, versions, uptimes, the
// volume, the operations running now and the pending restart.
import { statfs } from 'node:fs/promises';
import type { CompiledAgentConfig } from './config.js';
import { directorySize } from './disk-usage.js';
import type { LifecycleContext } from './lifecycle/context.js';
import type { Operations } from './operations.js';

export const AGENT_VERSION = '0.1.0';

export async function statusOf(ctx: LifecycleContext, config: CompiledAgentConfig, operations: Operations, agentStartedAtMs: number) {
  const { manager, layout, supervisor } = ctx;
  const s = ctx.state.get();
  let volume = { path: layout.dataDir, totalBytes: 0, usedBytes: 0, freeBytes: 0, dataBytes: 0 };
  try {
    const fs = await statfs(layout.baseDir);
    const total = fs.blocks * fs.bsize;
    const free = fs.bavail * fs.bsize;
    volume = { path: layout.dataDir, totalBytes: total, usedBytes: total - fs.bfree * fs.bsize, freeBytes: free, dataBytes: await directorySize(layout.dataDir) };
  } catch {
    // No base dir yet (NEW): zeros.
  }
  const running = supervisor.running && (s.state === 'ACTIVE' || s.state === 'RESTART_REQUIRED');
  return {
    state: s.state,
    reason: s.reason,
    datastore: manager.name,
    datastoreVersion: manager.version,
    serverVersion: running ? await manager.serverVersion() : '',
    agentVersion: AGENT_VERSION,
    uptimeSeconds: supervisor.uptimeSeconds(),
    agentUptimeSeconds: Math.floor((Date.now() - agentStartedAtMs) / 1000),
    volume,
    operations: operations.list().map((o) => ({ id: o.id, kind: o.kind, phase: o.phase, startedAtMs: o.startedAtMs })),
    restartCount: supervisor.restartCount,
    role: 'standalone',
    instanceId: config.instanceId,
    datastorePort: config.datastorePort,
    pendingRestart: [...s.pendingRestart],
  };
}

export type AgentStatus = Awaited<ReturnType<typeof statusOf>>;
