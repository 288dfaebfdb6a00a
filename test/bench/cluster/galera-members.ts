// Galera members for the cluster benches: real agents (test/support/agent.ts),
// prepared as a standalone first (what the control does before
// InstallCluster), each with its instance id and the ports its member
// entry names; InstallCluster timed from the call to the end of its
// stream, its progress events kept with the time they arrived.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { call, collect, type AgentProcess } from '../../support/agent.js';
import { freePort } from '../../support/ports.js';
import { ClusterServiceClient, type ClusterContext, type ClusterMember, type ClusterNodeStatus, type InstallClusterResponse } from '../../../proto/gen/coffer/agent/v1/cluster.js';
import { preparedAgent } from '../agents.js';
import type { Teardown } from '../harness.js';

export interface BenchMember {
  readonly id: string;
  readonly agent: AgentProcess;
  readonly cluster: ClusterServiceClient;
  readonly member: ClusterMember;
  /** Seconds its Prepare took (an empty standalone). */
  readonly prepareSeconds: number;
}

/** A prepared agent with an instance id of its own, and its member entry. */
export async function galeraMember(td: Teardown, root: string, name: string): Promise<BenchMember> {
  const id = randomUUID();
  const started = Date.now();
  const agent = await preparedAgent(td, path.join(root, name), 'mariadb', ['--instance-id', id]);
  const prepareSeconds = (Date.now() - started) / 1000;
  const cluster = new ClusterServiceClient(agent.address, credentials.createInsecure());
  td.teardown(() => cluster.close());
  const member: ClusterMember = {
    instanceId: id, host: '127.0.0.1', port: agent.datastorePort, role: '',
    clusterPorts: { gmcast: await freePort(), ist: await freePort(), sst: await freePort() },
  };
  return { id, agent, cluster, member, prepareSeconds };
}

export interface TimedInstall {
  readonly seconds: number;
  readonly context: ClusterContext;
  /** "configure 0.4 s, start (SST inside) 31.2 s, ..." from the progress events' arrival. */
  readonly phases: string;
}

/** InstallCluster on `m`, timed to the end of its stream (the node serves). */
export async function installTimed(m: BenchMember, req: { clusterId: string; members: ClusterMember[]; sst: string; bootstrap: boolean }): Promise<TimedInstall> {
  const t0 = process.hrtime.bigint();
  const at = (): number => Number(process.hrtime.bigint() - t0) / 1e9;
  const seen: Array<[string, number]> = [];
  const stream = m.cluster.installCluster({ strategy: 'galera', clusterId: req.clusterId, members: req.members, secrets: { sst: req.sst }, bootstrap: req.bootstrap });
  stream.on('data', (e: InstallClusterResponse) => {
    if (e.progress && seen.at(-1)?.[0] !== e.progress.phase) seen.push([e.progress.phase, at()]);
  });
  const events = await collect<InstallClusterResponse>(stream).catch((err: Error) => {
    throw new Error(`InstallCluster on ${m.id.slice(0, 8)} failed: ${err.message}\n${m.agent.logs.slice(-20).join('\n')}`, { cause: err });
  });
  const seconds = at();
  const context = events.at(-1)?.context;
  if (!context) throw new Error('InstallCluster ended without a context');
  // Each phase lasts until the next one begins.
  const phases = seen.map(([name, t], i) => `${name} ${((seen[i + 1]?.[1] ?? seconds) - t).toFixed(2)} s`).join(', ');
  return { seconds, context, phases };
}

export async function nodeStatus(m: BenchMember): Promise<ClusterNodeStatus | undefined> {
  return (await call<object, { context?: ClusterContext }>(m.cluster, 'getClusterContext', {})).context?.status;
}

export const synced = (s: ClusterNodeStatus | undefined, size: number): boolean => !!s && s.primary && s.ready && s.state === 'Synced' && s.clusterSize === size;

/** The joiner's state-transfer lines from its agent's log (mariadbd and the SST script write there), for where the time went. */
export function sstLines(m: BenchMember, from = 0): string[] {
  return m.agent.logs
    .slice(from)
    .join('\n')
    .split('\n')
    .filter((l) => /WSREP_SST|SST received|SST request|State transfer required|Shifting JOINER|Shifting JOINED|Shifting SYNCED|IST received|Receiving IST|Prepared for transfer|Streaming|mariabackup/i.test(l))
    .map((l) => l.slice(0, 300));
}
