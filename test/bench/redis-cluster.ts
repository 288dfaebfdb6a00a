// Issue 13, Redis Cluster: (a) the time from the first InstallCluster to a
// cluster of 3 masters serving (cluster_state ok on every member), at the
// agent level; (b) rebalance throughput, keys moved per second, of Coffer's
// grow (a 4th master installed: its InstallCluster moves a quarter of the
// slots, keys and all) against `redis-cli --cluster rebalance
// --cluster-use-empty-masters` doing the same move on the same data (the
// 4th master emptied again by `redis-cli --cluster rebalance
// --cluster-weight <it>=0` in between, itself timed); then Coffer's
// LeaveCluster of that master (its slots moved to the other three).
// redis-cli authenticates as the cluster account with REDISCLI_AUTH (never
// argv) and runs with its defaults (10 keys per MIGRATE).
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { hashSlot as calculateSlot } from '../support/redis-slot.js';
import { Redis } from 'ioredis';
import { ClusterServiceClient, type ClusterMember, type InstallClusterResponse } from '../../proto/gen/coffer/agent/v1/cluster.js';
import { call, collect, startAgent, type AgentProcess } from '../support/agent.js';
import { freePort } from '../support/ports.js';
import type { BenchOptions } from './options.js';
import { row, run, timed, type Row, type Teardown } from './harness.js';
import { benchRoot } from './workdir.js';

const USER = 'coffer-cluster';
const VALUE = 'x'.repeat(100);

interface Node {
  readonly name: string;
  readonly agent: AgentProcess;
  readonly member: ClusterMember;
  readonly cluster: ClusterServiceClient;
}

async function node(td: Teardown, root: string, name: string): Promise<Node> {
  const port = await freePort();
  const id = `${name}-${randomUUID().slice(0, 8)}`;
  const agent = await startAgent(td, { datastore: 'redis', baseDir: path.join(root, name), datastorePort: port, extraArgs: ['--instance-id', id] });
  await collect(agent.clients.lifecycle.prepare({ datastoreVersion: '', rootPassword: '', databases: [], users: [], overrides: {}, restore: undefined, replicaOf: undefined }));
  const cluster = new ClusterServiceClient(agent.address, credentials.createInsecure());
  td.teardown(() => cluster.close());
  return { name, agent, cluster, member: { instanceId: id, host: '127.0.0.1', port, role: 'master', clusterPorts: { bus: await freePort() } } };
}

function connect(n: Node, secret: string): Redis {
  return new Redis(n.member.port, '127.0.0.1', { username: USER, password: secret, maxRetriesPerRequest: null });
}

async function dbsize(n: Node, secret: string): Promise<number> {
  const r = connect(n, secret);
  try {
    return Number(await r.dbsize());
  } finally {
    r.disconnect();
  }
}

/** N keys written by pipelines to the node that serves each key's slot. */
async function load(nodes: readonly Node[], secret: string, keys: number): Promise<void> {
  const byPort = new Map(nodes.map((n) => [n.member.port, connect(n, secret)]));
  try {
    const owner = new Map<number, number>();
    for (const [a, b, [, port]] of (await byPort.values().next().value!.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number]]>) {
      for (let s = a; s <= b; s++) owner.set(s, port);
    }
    for (let i = 0; i < keys; i += 50_000) {
      const pipes = new Map([...byPort].map(([port, r]) => [port, r.pipeline()]));
      for (let k = i; k < Math.min(keys, i + 50_000); k++) pipes.get(owner.get(calculateSlot(`key:${k}`))!)!.set(`key:${k}`, VALUE);
      await Promise.all([...pipes.values()].map((p) => p.exec()));
    }
  } finally {
    for (const r of byPort.values()) r.disconnect();
  }
}

async function install(n: Node, members: readonly ClusterMember[], secret: string, clusterId: string, bootstrap: boolean): Promise<InstallClusterResponse[]> {
  return collect<InstallClusterResponse>(n.cluster.installCluster({ strategy: 'redis-cluster', clusterId, members: [...members], secrets: { cluster: secret }, bootstrap }));
}

export async function benchRedisCluster(o: BenchOptions, td: Teardown): Promise<Row[]> {
  const S = 'redis-cluster';
  const rows: Row[] = [];
  const root = benchRoot(td, o, 'coffer-bench-redis-cluster-');
  const secret = `bench-${randomUUID()}`;
  const clusterId = `bench-${randomUUID().slice(0, 8)}`;
  const nodes = await Promise.all(['m0', 'm1', 'm2', 'm3'].map((n) => node(td, root, n)));
  const [m0, m1, m2, m3] = nodes as [Node, Node, Node, Node];
  const three = [m0, m1, m2].map((n) => n.member);

  // (a) install: the order of docs/clusters.md, the last one forms the cluster.
  const steps: string[] = [];
  const inst = await timed(async () => {
    for (const [i, n] of [m0, m1, m2].entries()) steps.push(`${n.name} ${(await timed(() => install(n, three, secret, clusterId, i === 0))).seconds.toFixed(2)} s`);
    steps.push(`complete ${(await timed(async () => {
      for (const n of [m0, m1, m2]) await call(n.cluster, 'completeCluster', { clusterId });
    })).seconds.toFixed(2)} s`);
  });
  const formed = m2.agent.logs.find((l) => l.includes('the cluster is as the member list says'));
  if (formed) console.log(`bench ${S}: m2's reconcile: ${JSON.stringify((JSON.parse(formed) as { ms: unknown }).ms)}`);
  rows.push(row({ suite: S, name: 'InstallCluster x3 + CompleteCluster x3 to cluster_state ok (3 masters, empty)', seconds: inst.seconds, note: steps.join(', ') }));

  const keys = o.redisClusterKeys;
  const loaded = await timed(() => load([m0, m1, m2], secret, keys));
  console.log(`bench ${S}: loaded ${keys} keys of ${VALUE.length} B in ${loaded.seconds.toFixed(1)} s`);

  // (b) Coffer's grow: the list to the members, then the new one installs and rebalances.
  const four = [...three, m3.member];
  for (const n of [m0, m1, m2]) await call(n.cluster, 'setClusterMembers', { clusterId, members: four });
  const grow = await timed(() => install(m3, four, secret, clusterId, false));
  const moved = await dbsize(m3, secret);
  rows.push(row({ suite: S, name: 'Coffer grow 3 -> 4 masters (InstallCluster of the 4th: MEET, 4096 slots moved)', seconds: grow.seconds, note: `${moved} keys moved, ${(moved / grow.seconds).toFixed(0)} keys/s` }));

  // The same move by redis-cli: the 4th emptied (timed too), then filled again.
  const env = { ...process.env, REDISCLI_AUTH: secret };
  const cli = (...args: string[]) => run(['redis-cli', '--user', USER, '--cluster', ...args], env);
  const at = `127.0.0.1:${m0.member.port}`;
  const r3 = connect(m3, secret);
  const m3Id = String(await r3.call('CLUSTER', 'MYID'));
  r3.disconnect();
  // Kept a master once emptied (Redis 7 would make it a replica of the
  // node that took its last slot), so the fill below has an empty master to use.
  const replicaMigration = async (v: string): Promise<void> => {
    for (const n of nodes) {
      const r = connect(n, secret);
      await r.call('CONFIG', 'SET', 'cluster-allow-replica-migration', v);
      r.disconnect();
    }
  };
  await replicaMigration('no');
  const empty = await timed(() => cli('rebalance', at, '--cluster-weight', `${m3Id}=0`));
  const emptied = moved - (await dbsize(m3, secret));
  rows.push(row({ suite: S, name: 'redis-cli --cluster rebalance --cluster-weight 4th=0 (4096 slots off the 4th)', seconds: empty.seconds, note: `${emptied} keys moved, ${(emptied / empty.seconds).toFixed(0)} keys/s` }));
  const fill = await timed(() => cli('rebalance', at, '--cluster-use-empty-masters'));
  const filled = await dbsize(m3, secret);
  rows.push(row({ suite: S, name: 'redis-cli --cluster rebalance --cluster-use-empty-masters (3 -> 4, same move as Coffer\'s grow)', seconds: fill.seconds, note: `${filled} keys moved, ${(filled / fill.seconds).toFixed(0)} keys/s; Coffer's grow / redis-cli: ${((moved / grow.seconds) / (filled / fill.seconds)).toFixed(2)}x keys/s` }));

  await replicaMigration('yes');

  // Coffer's shrink: the 4th leaves, its slots to the other three.
  const holding = await dbsize(m3, secret);
  const leave = await timed(() => call(m3.cluster, 'leaveCluster', { clusterId }));
  rows.push(row({ suite: S, name: 'Coffer LeaveCluster of the 4th master (its slots to the other 3)', seconds: leave.seconds, note: `${holding} keys moved, ${(holding / leave.seconds).toFixed(0)} keys/s` }));
  let total = 0;
  for (const n of [m0, m1, m2]) total += await dbsize(n, secret);
  if (total !== keys) throw new Error(`after the runs the 3 masters hold ${total} keys, not ${keys}`);
  return rows;
}
