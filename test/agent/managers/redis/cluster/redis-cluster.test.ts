// A Redis Cluster of real redis-server 7.0 nodes through real agents, over
// TLS as the control deploys them (the bus with tls-cluster), one cluster
// walked through in order: three masters and a replica installed
// through ClusterService (the last one installed forms it); 100,000 keys
// over every hash slot; `redis-cli -c` reading and writing through any node
// with one tenant credential; grown to four masters (the new member's
// install moves the slots, keys and all) with a reader that must never miss
// a key; shrunk back to three (the leaving master's slots move away first);
// and kill -9 of the master that has the replica: Redis fails over,
// GetClusterContext on the survivors shows it, and the old master, its agent
// back, rejoins by itself as a replica.
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { credentials, status as Status, type ServiceError } from '@grpc/grpc-js';
import { hashSlot as calculateSlot } from '../../../../support/redis-slot.js';
import { Cluster, Redis } from 'ioredis';
import t from 'tap';
import {
  ClusterServiceClient,
  type ClusterContext,
  type ClusterMember,
  type InstallClusterResponse,
} from '../../../../../proto/gen/coffer/agent/v1/cluster.js';
import { call, collect, datastorePid, killLeftoverDatastore, startAgent, tempBase, waitFor, type AgentProcess } from '../../../../support/agent.js';
import { makePki } from '../../../../support/certs.js';
import { freePort } from '../../../../support/ports.js';
import { redisCli } from '../../../../support/redis-cli.js';
import { PREPARE, user } from '../fixtures/instance.js';

const CLUSTER = `rc-${randomUUID().slice(0, 8)}`;
const SECRET = `cl-${randomUUID()}`;
const APP = 'app';
const APP_PASSWORD = `app-${randomUUID()}`;
const KEYS = 100_000;
const SLOTS = 16384;

// The deployment's TLS, as the control gives it: every member serves TLS
// only, so the bus (tls-cluster) and every redirection are TLS too.
const pki = makePki('coffer-redis-cluster-pki-');
const pair = pki.issue('datastore', { server: true });
const TLS_ARGS = ['--datastore-tls-cert', pair.cert, '--datastore-tls-key', pair.key, '--datastore-tls-ca', pki.ca];
const TLS = { ca: pki.ca };
const tlsOptions = { ca: readFileSync(pki.ca) };

interface Node {
  readonly name: string;
  readonly port: number;
  readonly id: string;
  readonly baseDir: string;
  readonly member: ClusterMember;
  agent: AgentProcess;
  cluster: ClusterServiceClient;
}

const root = tempBase('coffer-redis-cluster-');
const all: Node[] = [];
const byName = (name: string): Node => all.find((n) => n.name === name)!;
let members: Node[] = [];
const list = (): ClusterMember[] => members.map((n) => n.member);

async function startNodeAgent(id: string, baseDir: string, port: number): Promise<{ agent: AgentProcess; cluster: ClusterServiceClient }> {
  const agent = await startAgent(t, { datastore: 'redis', baseDir, datastorePort: port, extraArgs: ['--instance-id', id, ...TLS_ARGS] });
  const cluster = new ClusterServiceClient(agent.address, credentials.createInsecure());
  t.teardown(() => cluster.close());
  return { agent, cluster };
}

// Every port this file picks, so that no two nodes (or a node's client and
// bus ports) are ever given the same one: picks from 7,000 ports repeat.
const taken = new Set<number>();
async function pickPort(): Promise<number> {
  for (;;) {
    const p = await freePort(taken);
    // Nodes start at once: another pick may have taken it during the await.
    if (taken.has(p)) continue;
    taken.add(p);
    return p;
  }
}

async function newNode(name: string, role: string): Promise<Node> {
  const id = `${name}-${randomUUID().slice(0, 8)}`;
  const baseDir = path.join(root, name);
  const port = await pickPort();
  const member: ClusterMember = { instanceId: id, host: '127.0.0.1', port, role, clusterPorts: { bus: await pickPort() } };
  const { agent, cluster } = await startNodeAgent(id, baseDir, port);
  // Small: five servers share a loaded 2-core box. A short node timeout
  // makes the failover below take seconds, not the default 15.
  const overrides = { maxmemory: '67108864', 'cluster-node-timeout': '2000' };
  // Only the first master has the tenant user: the cluster copies it to every member.
  await collect(agent.clients.lifecycle.prepare({ ...PREPARE, overrides, users: name === 'm0' ? [user(APP, APP_PASSWORD, ['~*', '&*', '+@all'])] : [] }));
  return { name, id, port, baseDir, member, agent, cluster };
}

async function context(n: Node): Promise<ClusterContext | undefined> {
  return (await call<object, { context?: ClusterContext }>(n.cluster, 'getClusterContext', {})).context;
}

async function install(n: Node, bootstrap: boolean): Promise<InstallClusterResponse[]> {
  return collect<InstallClusterResponse>(n.cluster.installCluster({ strategy: 'redis-cluster', clusterId: CLUSTER, members: list(), secrets: { cluster: SECRET }, bootstrap })).catch((err: Error) => {
    throw new Error(`InstallCluster on ${n.name} failed: ${err.message}\n${n.agent.logs.slice(-30).join('\n')}`, { cause: err });
  });
}

const cli = (n: Node, ...args: string[]) => redisCli(n.member.port, APP, APP_PASSWORD, ['-c', ...args], TLS);

/** A cluster client as an application has one: MOVED and ASK followed, one credential on every node. */
function clusterClient(): Cluster {
  const c = new Cluster(members.filter((n) => n.name !== 'm0').map((n) => ({ host: '127.0.0.1', port: n.member.port })), {
    redisOptions: { username: APP, password: APP_PASSWORD, tls: tlsOptions },
    maxRedirections: 64,
    retryDelayOnMoved: 0,
  });
  c.on('error', () => undefined);
  t.teardown(() => c.disconnect());
  return c;
}

// Keys chosen so that every one of the 16384 slots holds at least one.
const keys: string[] = (() => {
  const cover = new Map<number, number>();
  for (let n = 0; cover.size < SLOTS; n++) {
    const s = calculateSlot(`k:${n}`);
    if (!cover.has(s)) cover.set(s, n);
  }
  const chosen = new Set(cover.values());
  for (let n = 0; chosen.size < KEYS; n++) chosen.add(n);
  return [...chosen].map((n) => `k:${n}`);
})();
const value = (k: string): string => `v:${k}`;

/** The keys by the port of the node that serves their slot, as `via` sees it (CLUSTER SLOTS). */
async function byOwner(via: Node): Promise<Map<number, string[]>> {
  const owner = new Map<number, number>();
  for (const [a, b, [, port]] of JSON.parse((await redisCli(via.member.port, APP, APP_PASSWORD, ['--json', 'CLUSTER', 'SLOTS'], TLS)).stdout) as Array<[number, number, [string, number]]>) {
    for (let s = a; s <= b; s++) owner.set(s, port);
  }
  const out = new Map<number, string[]>();
  for (const k of keys) {
    const port = owner.get(calculateSlot(k))!;
    if (!out.has(port)) out.set(port, []);
    out.get(port)!.push(k);
  }
  return out;
}

/** One pipeline per node, 10,000 commands at a time: the fast way to touch every key. */
async function pipelined(via: Node, command: 'get' | 'set'): Promise<string[]> {
  const bad: string[] = [];
  for (const [port, ks] of await byOwner(via)) {
    const r = new Redis(port, '127.0.0.1', { username: APP, password: APP_PASSWORD, tls: tlsOptions });
    try {
      for (let i = 0; i < ks.length; i += 10_000) {
        const chunk = ks.slice(i, i + 10_000);
        const p = r.pipeline();
        for (const k of chunk) (command === 'get' ? p.get(k) : p.set(k, value(k)));
        const got = (await p.exec())!;
        const want = (k: string): string => (command === 'get' ? value(k) : 'OK');
        got.forEach(([err, v], j) => (err || v !== want(chunk[j]!)) && bad.push(`${chunk[j]} -> ${err?.message ?? v}`));
      }
    } finally {
      r.disconnect();
    }
  }
  return bad.slice(0, 5);
}

/** Every key read from the node that serves its slot (where a client lands after MOVED); the ones missing or wrong. */
const unreadable = (via: Node): Promise<string[]> => pipelined(via, 'get');

/** Reads random keys until stopped: a key that is not there (or an error) is a failure a user would see. */
function readerLoop(c: Cluster): { stop: () => Promise<{ reads: number; missing: string[] }> } {
  let running = true;
  let reads = 0;
  const missing: string[] = [];
  const done = (async () => {
    while (running) {
      const batch = Array.from({ length: 200 }, () => keys[Math.floor(Math.random() * keys.length)]!);
      const got = await Promise.all(batch.map((k) => c.get(k).catch((e: Error) => `error: ${e.message}`)));
      got.forEach((v, j) => v !== value(batch[j]!) && missing.push(`${batch[j]} -> ${v}`));
      reads += batch.length;
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      return { reads, missing };
    },
  };
}

async function slotsOf(n: Node): Promise<number> {
  return (await context(n))?.status?.slots ?? -1;
}

async function dbsizes(ns: Node[]): Promise<number> {
  let sum = 0;
  for (const n of ns) sum += Number((await redisCli(n.member.port, APP, APP_PASSWORD, ['DBSIZE'], TLS)).stdout.trim());
  return sum;
}

t.before(async () => {
  // m0..m2 masters, r0 replica (of m0: the first replica follows the first master), m3 for the grow.
  const made = await Promise.all([newNode('m0', 'master'), newNode('m1', 'master'), newNode('m2', 'master'), newNode('r0', 'replica'), newNode('m3', 'master')]);
  all.push(...made);
  members = ['m0', 'm1', 'm2', 'r0'].map(byName);
});

t.teardown(async () => {
  for (const n of all) {
    await n.agent.stop('SIGKILL');
    killLeftoverDatastore(n.baseDir);
  }
  rmSync(root, { recursive: true, force: true });
});

t.test('bad inputs are refused naming what is wrong, before anything changes', async (t) => {
  const n = byName('m0');
  const refuse = async (req: object, pattern: RegExp, what: string): Promise<void> => {
    const err = (await collect(n.cluster.installCluster({ strategy: 'redis-cluster', clusterId: CLUSTER, members: list(), secrets: { cluster: SECRET }, bootstrap: true, ...req })).catch((e: ServiceError) => e)) as ServiceError;
    t.equal(err.code, Status.INVALID_ARGUMENT, what);
    t.match(err.details, pattern, what);
  };
  await refuse({ strategy: 'galera' }, /unknown cluster strategy "galera".*redis-cluster/, 'unknown strategy');
  await refuse({ secrets: {} }, /secrets has no "cluster"/, 'missing cluster secret');
  await refuse({ members: list().map((m) => ({ ...m, clusterPorts: {} })) }, /cluster_ports has no "bus"/, 'missing bus port');
  t.notOk(await context(n), 'still no cluster member');
});

t.test('installed one by one: the last member forms the cluster, slots even over 3 masters, the replica follows m0', async (t) => {
  const [m0, m1, m2, r0] = members as [Node, Node, Node, Node];
  const first = await install(m0, true);
  t.equal(first.at(-1)?.context?.status?.state, 'fail', 'the first node alone runs in cluster mode, serving nothing yet');
  await install(m1, false);
  await install(m2, false);
  const last = await install(r0, false);
  t.match(last.map((e) => e.progress?.message ?? '').join('\n'), /assigning 16384 slots over 3 masters/, 'the last install assigned the slots');
  for (const n of members) await call(n.cluster, 'completeCluster', { clusterId: CLUSTER });
  for (const n of [m0, m1, m2]) t.ok([5461, 5462].includes(await slotsOf(n)), `${n.name} serves a third of the slots`);
  const rc = await context(r0);
  t.match(rc?.status, { state: 'ok', ready: true, primary: true, role: 'replica', slots: 0, clusterSize: 4, running: true }, 'the replica sees a cluster of 4 that serves');
  const nodes = (await cli(m1, 'CLUSTER', 'NODES')).stdout;
  const m0Id = (await cli(m0, 'CLUSTER', 'MYID')).stdout.trim();
  t.match(nodes, new RegExp(`slave ${m0Id}`), 'the replica follows m0 (replica i follows master i)');
  const conf = readFileSync(path.join(m1.baseDir, 'etc', 'redis.conf'), 'utf8');
  t.match(conf, /^port 0$/m, 'no plaintext port');
  t.match(conf, /^tls-cluster yes$/m, 'the bus and the redirections are TLS');
  t.match(conf, new RegExp(`^cluster-port ${m1.member.clusterPorts.bus}$`, 'm'), 'the bus on the member\'s own port');
  const again = await install(m1, false);
  t.equal(again.at(-1)?.context?.status?.state, 'ok', 'InstallCluster again only reports');
  t.notOk(all.some((n) => JSON.stringify(n.agent.logs).includes(SECRET)), 'the cluster secret is in no log line');
});

t.test('100,000 keys over every slot; redis-cli -c reads and writes through any node with one credential', async (t) => {
  const started = Date.now();
  t.same(await pipelined(members[1]!, 'set'), [], 'every write accepted');
  t.comment(`wrote ${KEYS} keys in ${Date.now() - started} ms`);
  t.equal(await dbsizes(members.filter((n) => n.name !== 'r0')), KEYS, 'the masters hold every key once');
  for (const [i, n] of members.entries()) {
    const other = members[(i + 1) % members.length]!;
    t.equal((await cli(n, 'SET', `cli:${i}`, `w${i}`)).stdout.trim(), 'OK', `a write through ${n.name}`);
    t.equal((await cli(other, 'GET', `cli:${i}`)).stdout.trim(), `w${i}`, `read back through ${other.name}`);
    t.equal((await cli(n, 'GET', keys[i * 7919]!)).stdout.trim(), value(keys[i * 7919]!), `a key of any slot read through ${n.name}`);
  }
});

t.test('grow to 4 masters: the new member takes a quarter of the slots with its keys, no read ever misses', async (t) => {
  const m3 = byName('m3');
  const c = clusterClient();
  const reader = readerLoop(c);
  const staying = [...members];
  members = [...members, m3];
  // The order of docs/clusters.md: the list first, then the new member.
  for (const n of staying) {
    const r = await call<object, { context: ClusterContext }>(n.cluster, 'setClusterMembers', { clusterId: CLUSTER, members: list() });
    t.equal(r.context.members.length, 5, `${n.name} holds 5 members`);
  }
  const started = Date.now();
  const events = await install(m3, false);
  const ms = Date.now() - started;
  const { reads, missing } = await reader.stop();
  t.match(events.map((e) => e.progress?.message ?? '').join('\n'), /moving \d+ slots to balance 4 masters/, 'the install moved slots');
  t.comment(`grow: install with rebalance took ${ms} ms; ${reads} reads meanwhile`);
  t.ok(reads > 0, 'the reader ran during the grow');
  t.same(missing.slice(0, 5), [], 'no read missed a key during the grow');
  for (const n of ['m0', 'm1', 'm2', 'm3'].map(byName)) t.equal(await slotsOf(n), 4096, `${n.name} serves 4096 slots`);
  t.same(await unreadable(m3), [], 'every key is readable after the grow');
  t.equal(await dbsizes(['m0', 'm1', 'm2', 'm3'].map(byName)), KEYS + members.length - 1, 'no key lost or doubled');
  for (const n of staying) await call(n.cluster, 'setClusterMembers', { clusterId: CLUSTER, members: list() });
  t.equal(await slotsOf(m3), 4096, 'SetClusterMembers again finds nothing to move');
});

t.test('shrink back to 3: the leaving master\'s slots move away first, then the others forget it', async (t) => {
  const m1 = byName('m1');
  const c = clusterClient();
  const reader = readerLoop(c);
  const m1Id = (await cli(m1, 'CLUSTER', 'MYID')).stdout.trim();
  await call(m1.cluster, 'leaveCluster', { clusterId: CLUSTER });
  members = members.filter((n) => n !== m1);
  for (const n of members) await call(n.cluster, 'setClusterMembers', { clusterId: CLUSTER, members: list() });
  const { reads, missing } = await reader.stop();
  t.ok(reads > 0, 'the reader ran during the shrink');
  t.same(missing.slice(0, 5), [], 'no read missed a key during the shrink');
  t.notOk(await context(m1), 'the removed instance is no member any more');
  await call(m1.cluster, 'leaveCluster', { clusterId: CLUSTER });
  t.pass('LeaveCluster again does nothing');
  for (const n of ['m0', 'm2', 'm3'].map(byName)) t.ok([5461, 5462].includes(await slotsOf(n)), `${n.name} serves a third of the slots again`);
  for (const n of members) t.notMatch((await cli(n, 'CLUSTER', 'NODES')).stdout, m1Id, `${n.name} forgot the removed node`);
  t.same(await unreadable(byName('m2')), [], 'every key is readable after the shrink');
  t.equal(await dbsizes(['m0', 'm2', 'm3'].map(byName)), KEYS + 4, 'no key lost');
});

t.test('kill -9 of the master that has a replica: Redis fails over, the survivors show it, the old master rejoins as a replica', async (t) => {
  const [m0, r0, m2] = ['m0', 'r0', 'm2'].map(byName) as [Node, Node, Node];
  const pid = datastorePid(m0.baseDir);
  t.ok(pid > 0, 'the master runs');
  // The agent too, or it would restart the server before anyone noticed.
  await m0.agent.stop('SIGKILL');
  process.kill(pid, 'SIGKILL');
  const promoted = await waitFor('the replica to take over', async () => {
    const s = (await context(r0))?.status;
    return s?.role === 'master' && s.state === 'ok' && s;
  }, 60_000).catch(async (err: Error) => {
    t.comment(JSON.stringify((await context(r0))?.status), (await cli(m2, 'CLUSTER', 'NODES')).stdout, r0.agent.logs.filter((l) => /fail|elect|vote/i.test(l)).slice(-20).join('\n'));
    throw err;
  });
  t.ok([5461, 5462].includes(promoted.slots), 'the former replica serves the dead master\'s slots');
  const seen = await waitFor('a survivor to count the dead node out', async () => {
    const s = (await context(m2))?.status;
    return s?.state === 'ok' && s.clusterSize === 3 && s;
  }, 30_000);
  t.match(seen, { ready: true, primary: true, role: 'master' }, 'GetClusterContext on another survivor: ok, 3 nodes up');
  t.same(await unreadable(m2), [], 'every key is readable after the failover');

  // Its agent back: the old master rejoins by itself, as a replica of the node that took its slots.
  Object.assign(m0, await startNodeAgent(m0.id, m0.baseDir, m0.port));
  const back = await waitFor('the old master back as a replica', async () => {
    const s = (await context(m0))?.status;
    return s?.role === 'replica' && s.state === 'ok' && s;
  }, 60_000);
  t.match(back, { slots: 0, clusterSize: 4 }, 'the old master follows the new one; 4 nodes up again');
  const err = (await call(m2.cluster, 'getRecoveryPosition', {}).catch((e: ServiceError) => e)) as ServiceError;
  t.equal(err.code, Status.UNIMPLEMENTED, 'no recovery position: Redis Cluster recovers by itself');
  t.match(err.details, /recovers from a full outage by itself/);
});
