// A 3-node Galera cluster of real mariadbd (Debian's galera-4) through real
// agents, installed through ClusterService in the order the control uses
// (the bootstrap node, then each joiner by a mariabackup SST; the last
// joiner's agent killed -9 while its SST runs, restarted, and installed
// again): a row written on any node is read on every node; one node killed
// (mariadbd and agent) leaves the others writable and catches up when its
// agent comes back; a node whose data is lost comes back by a full SST
// under its agent's supervision, with its own agent account; a full outage
// is recovered from the most advanced node only, no committed row lost;
// grown to 4 and shrunk back to 3 by member-list rewrites with every row
// intact. One cluster for the whole file: each step builds on the last.
// After every SST the agent's own account must work on the joiner (its
// grant tables are the donor's): the accounts calls below go through it.
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { status as Status, type ServiceError } from '@grpc/grpc-js';
import t from 'tap';
import {
  ClusterServiceClient,
  type ClusterContext,
  type ClusterMember,
  type InstallClusterResponse,
  type RecoverClusterResponse,
  type RecoveryPosition,
} from '../../../../../proto/gen/coffer/agent/v1/cluster.js';
import { call, collect, killLeftoverDatastore, startAgent, tempBase, waitFor, type AgentProcess } from '../../../../support/agent.js';
import { freePort } from '../../../../support/ports.js';
import { mariadbSocket } from '../../../../support/mariadb-client.js';
import { DatastoreState } from '../../../../../proto/gen/coffer/agent/v1/lifecycle.js';
import { PREPARE } from '../replication-helpers.js';

const CLUSTER = `c-${randomUUID().slice(0, 8)}`;
const SST = `sst-${randomUUID()}`;

interface Node {
  readonly id: string;
  readonly baseDir: string;
  readonly datastorePort: number;
  readonly member: ClusterMember;
  agent: AgentProcess;
  cluster: ClusterServiceClient;
}

const root = tempBase('coffer-galera-');
const nodes: Node[] = [];

async function startNodeAgent(n: { id: string; baseDir: string; datastorePort: number }): Promise<{ agent: AgentProcess; cluster: ClusterServiceClient }> {
  const agent = await startAgent(t, { baseDir: n.baseDir, datastorePort: n.datastorePort, extraArgs: ['--instance-id', n.id] });
  const cluster = new ClusterServiceClient(agent.address, (await import('@grpc/grpc-js')).credentials.createInsecure());
  t.teardown(() => cluster.close());
  return { agent, cluster };
}

const socket = (n: Node): string => path.join(n.baseDir, 'run', 'mysqld.sock');

async function sql(n: Node, statement: string): Promise<string> {
  const r = await mariadbSocket(socket(n), statement);
  if (r.code !== 0) throw new Error(`SQL on ${n.id.slice(0, 8)} failed: ${r.stderr}`);
  return r.stdout.trim();
}

const rows = (n: Node): Promise<string> => sql(n, 'SELECT GROUP_CONCAT(v ORDER BY v) FROM shop.t');

async function context(n: Node): Promise<ClusterContext | undefined> {
  return (await call<object, { context?: ClusterContext }>(n.cluster, 'getClusterContext', {})).context;
}

function members(): ClusterMember[] {
  return nodes.map((n) => n.member);
}

const installStream = (n: Node, bootstrap: boolean) => n.cluster.installCluster({ strategy: 'galera', clusterId: CLUSTER, members: members(), secrets: { sst: SST }, bootstrap });

async function install(n: Node, bootstrap: boolean): Promise<ClusterContext> {
  const events = await collect<InstallClusterResponse>(installStream(n, bootstrap)).catch((err: Error) => {
    throw new Error(`InstallCluster on ${n.id.slice(0, 8)} failed: ${err.message}\n${n.agent.logs.slice(-30).join('\n')}`, { cause: err });
  });
  const ctx = events.at(-1)?.context;
  if (!ctx) throw new Error('InstallCluster ended without a context');
  return ctx;
}

/** Kill -9 of the node's agent and its mariadbd (the whole process group). */
async function killNode(n: Node): Promise<void> {
  await n.agent.stop('SIGKILL');
  killLeftoverDatastore(n.baseDir);
  await waitFor('mariadbd to be gone', async () => (await mariadbSocket(socket(n), 'SELECT 1')).code !== 0);
}

async function restartAgent(n: Node): Promise<void> {
  const { agent, cluster } = await startNodeAgent(n);
  n.agent = agent;
  n.cluster = cluster;
}

/** The agent's accounts call: it goes through the agent's own account on that node. */
const usersThroughAgent = async (n: Node): Promise<string> => JSON.stringify(await call(n.agent.clients.accounts, 'listUsers', { page: { limit: 10, marker: '' } }));

const serving = async (n: Node, size: number): Promise<boolean> => {
  const s = (await context(n))?.status;
  return !!s && s.primary && s.ready && s.state === 'Synced' && s.clusterSize === size;
};

// Every port the file picks, so that no two are the same (each pick is
// random: sixteen of them would now and then draw one twice).
const taken = new Set<number>();
async function port(): Promise<number> {
  const p = await freePort(taken);
  taken.add(p);
  return p;
}

/** A node's identity and ports, before its agent starts. */
interface NodePlan {
  readonly id: string;
  readonly datastorePort: number;
  readonly member: ClusterMember;
}

/** A new node's identity and ports (picked one after another: see taken). */
async function newMember(): Promise<NodePlan> {
  const id = randomUUID();
  const datastorePort = await port();
  const member: ClusterMember = {
    instanceId: id, host: '127.0.0.1', port: datastorePort, role: '',
    clusterPorts: { gmcast: await port(), ist: await port(), sst: await port() },
  };
  return { id, datastorePort, member };
}

/** A new node: its agent started and its standalone server prepared, not yet a member. */
async function preparedNode(name: string, m: NodePlan): Promise<Node> {
  const { id, datastorePort, member } = m;
  const baseDir = path.join(root, name);
  const { agent, cluster } = await startNodeAgent({ id, baseDir, datastorePort });
  // Small buffers: four servers share a loaded 2-core box.
  await collect(agent.clients.lifecycle.prepare({ ...PREPARE, overrides: { innodb_buffer_pool_size: '33554432' } }));
  return { id, baseDir, datastorePort, member, agent, cluster };
}

// The node the last subtest grows the cluster by, prepared with the first
// three (at the same time: the file's time is watched); a member only when
// that subtest joins it.
let spare: Node;

t.before(async () => {
  const names = ['n0', 'n1', 'n2', 'n3'];
  const planned: NodePlan[] = [];
  for (let i = 0; i < names.length; i++) planned.push(await newMember());
  const [n0, n1, n2, n3] = await Promise.all(names.map((name, i) => preparedNode(name, planned[i]!)));
  nodes.push(n0!, n1!, n2!);
  spare = n3!;
});

t.teardown(async () => {
  for (const n of new Set([...nodes, spare])) {
    if (!n) continue;
    await n.agent.stop('SIGKILL');
    killLeftoverDatastore(n.baseDir);
  }
  rmSync(root, { recursive: true, force: true });
});

t.test('bad inputs are refused naming what is wrong, before anything changes', async (t) => {
  const n = nodes[0]!;
  const refuse = async (req: object, pattern: RegExp, what: string): Promise<void> => {
    const err = (await collect(n.cluster.installCluster({ strategy: 'galera', clusterId: CLUSTER, members: members(), secrets: { sst: SST }, bootstrap: true, ...req })).catch((e: ServiceError) => e)) as ServiceError;
    t.equal(err.code, Status.INVALID_ARGUMENT, what);
    t.match(err.details, pattern, what);
  };
  await refuse({ strategy: 'redis-cluster' }, /unknown cluster strategy "redis-cluster".*galera/, 'unknown strategy');
  await refuse({ secrets: {} }, /secrets has no "sst"/, 'missing SST secret');
  await refuse({ members: members().map((m) => ({ ...m, clusterPorts: { gmcast: m.clusterPorts.gmcast } })) }, /cluster_ports has no "ist"/, 'missing IST port');
  await refuse({ members: members().slice(1) }, /does not name this instance/, 'self not a member');
  await refuse({ clusterId: 'c'.repeat(33) }, /has 33 characters; galera carries at most 32/, 'a cluster id longer than gcomm carries');
  t.notOk(await context(n), 'still no cluster member');
  t.notOk(JSON.stringify(n.agent.logs).includes(SST), 'the SST secret is in no log line');
});

t.test('installed bootstrap node first, then the joiners: a row written on any node is read on every node', async (t) => {
  const first = await install(nodes[0]!, true);
  t.equal(first.status?.clusterSize, 1);
  await sql(nodes[0]!, 'CREATE TABLE shop.t (v VARCHAR(16) PRIMARY KEY) ENGINE=InnoDB');
  await install(nodes[1]!, false);
  await sql(nodes[0]!, "INSERT INTO shop.t VALUES ('a0')");
  await sql(nodes[1]!, "INSERT INTO shop.t VALUES ('a1')");

  // The last joiner's agent is killed -9 while its SST runs (a donor says
  // so), comes back, and InstallCluster is called again, as the control's
  // retry would: it must finish, with every row.
  const c = nodes[2]!;
  const interrupted = collect(installStream(c, false)).then(() => 'finished', (err: Error) => err.message);
  const donor = await waitFor('a member to give the joiner its SST', async () => {
    for (const n of nodes.slice(0, 2)) if (/Donor/.test((await context(n))?.status?.state ?? '')) return n;
    return undefined;
  }, 120_000);
  await c.agent.stop('SIGKILL');
  t.not(await interrupted, 'finished', `the first InstallCluster did not finish (killed while ${donor.id.slice(0, 8)} was its donor)`);
  await restartAgent(c);
  const again = await waitFor('InstallCluster again (the restarted agent may be busy bringing its datastore back)', async () => {
    try {
      return await install(c, false);
    } catch (err) {
      if (/another operation is running|is running/.test((err as Error).message)) return undefined;
      throw err;
    }
  }, 300_000);
  t.equal(again.status?.state, 'Synced', 'InstallCluster again finished: the node serves');
  t.equal(await rows(c), 'a0,a1', 'it holds every row written before');
  t.match(await usersThroughAgent(c), /alice/, 'the agent\'s own account works on it');

  for (const n of nodes) t.ok(await waitFor('a cluster of 3', () => serving(n, 3), 120_000), `${n.id.slice(0, 8)} serves in a cluster of 3`);
  await sql(c, "INSERT INTO shop.t VALUES ('a2')");
  for (const n of nodes) t.equal(await rows(n), 'a0,a1,a2', 'every row on every node');
  for (const n of nodes) await call(n.cluster, 'completeCluster', { clusterId: CLUSTER });
  const st = await call<object, { cluster?: ClusterContext }>(nodes[1]!.agent.clients.lifecycle, 'getStatus', {});
  t.match(st.cluster, { clusterId: CLUSTER, strategy: 'galera', status: { state: 'Synced', clusterSize: 3, ready: true, primary: true, running: true } }, 'GetStatus carries the wsrep state');
  // Its own account still works on a joiner (SST copied the donor's).
  t.match(await usersThroughAgent(nodes[1]!), /alice/);
  t.notOk(nodes.some((n) => JSON.stringify(n.agent.logs).includes(SST)), 'the SST secret is in no log line');
});

t.test('kill -9 of one node: the others keep accepting writes, and it catches up when its agent is back', async (t) => {
  const [a, b, c] = nodes as [Node, Node, Node];
  await killNode(c);
  await waitFor('the others to see 2', () => serving(a, 2), 60_000);
  await sql(a, "INSERT INTO shop.t VALUES ('b0')");
  await sql(b, "INSERT INTO shop.t VALUES ('b1')");
  await restartAgent(c);
  await waitFor('the node back in a cluster of 3', () => serving(c, 3), 180_000);
  t.equal(await rows(c), 'a0,a1,a2,b0,b1', 'the restarted node has every row');
  t.match(c.agent.logs.join('\n'), /IST received|Receiving IST/, 'it caught up by IST');
});

t.test('a node whose data is lost comes back by a full SST when its agent is back: every row, and its agent\'s own account', async (t) => {
  const c = nodes[2]!;
  // The node killed -9 (agent and mariadbd) and every file of its data
  // directory gone, as when a volume is replaced: its agent starts it on an
  // empty directory, and it can only rejoin by a full copy, after which its
  // accounts are its donor's until the agent re-makes its own.
  await killNode(c);
  const dataDir = path.join(c.baseDir, 'data');
  for (const f of readdirSync(dataDir)) rmSync(path.join(dataDir, f), { recursive: true, force: true });
  await restartAgent(c);
  let seen = '';
  await waitFor('the node back in a cluster of 3', async () => {
    const st = await call<object, { state: number; reason: string }>(c.agent.clients.lifecycle, 'getStatus', {});
    seen = `state ${st.state}, ${st.reason}`;
    return st.state === DatastoreState.DATASTORE_STATE_ACTIVE && (await serving(c, 3));
  }, 240_000).catch((err: Error) => {
    // What a person needs to see why: the agent's status and its last words.
    throw new Error(`${err.message}; last status: ${seen}; agent log tail:\n${c.agent.logs.slice(-40).join('\n')}`);
  });
  t.match(c.agent.logs.join('\n'), /SST received|SST succeeded|Proceeding with SST/, 'it rejoined by a full SST');
  t.equal(await rows(c), 'a0,a1,a2,b0,b1', 'every row on it');
  t.match(await usersThroughAgent(c), /alice/, 'the agent\'s own account works on it');
});

t.test('full outage: positions read, a node behind refused, bootstrap from the most advanced, every committed row kept', async (t) => {
  const [a, b, c] = nodes as [Node, Node, Node];
  // c falls behind (killed); a stops cleanly (b keeps a primary component
  // of its own: a clean leave is not a failure) and falls behind too; b
  // commits last and is killed.
  await killNode(c);
  await waitFor('2 left', () => serving(a, 2), 60_000);
  await sql(a, "INSERT INTO shop.t VALUES ('c0')");
  await call(a.agent.clients.lifecycle, 'stop', {});
  await waitFor('1 left', () => serving(b, 1), 60_000);
  await sql(b, "INSERT INTO shop.t VALUES ('c1')");
  await killNode(b);
  await a.agent.stop('SIGKILL');
  await Promise.all(nodes.map(restartAgent));
  // No peer answers: a crashed member keeps its datastore down for the control.
  for (const n of [b, c]) {
    const s = await call<object, { state: number; reason: string; cluster?: ClusterContext }>(n.agent.clients.lifecycle, 'getStatus', {});
    t.match(s.reason, /full outage/, `${n.id.slice(0, 8)} waits for recovery`);
    t.equal(s.state, DatastoreState.DATASTORE_STATE_SHUTDOWN, 'its datastore is down');
    t.match(s.cluster, { clusterId: CLUSTER, status: { running: false } }, 'GetStatus still names its cluster, the node not running');
  }
  const positions: RecoveryPosition[] = [];
  for (const n of nodes) positions.push((await call<object, { position: RecoveryPosition }>(n.cluster, 'getRecoveryPosition', {})).position);
  const at = Object.fromEntries(positions.map((p) => [p.instanceId, p]));
  const shown = JSON.stringify(positions.map((p) => [p.instanceId.slice(0, 8), p.seqno, p.source]));
  t.ok(at[b.id]!.seqno > at[a.id]!.seqno && at[a.id]!.seqno > at[c.id]!.seqno, `b ahead of a ahead of c ${shown}`);
  t.equal(at[a.id]!.source, 'grastate', 'a clean stop: grastate.dat has the position');
  t.equal(at[b.id]!.source, 'wsrep-recover', 'a crash: --wsrep-recover found the position');
  const behind = (await collect(a.cluster.recoverCluster({ clusterId: CLUSTER, bootstrap: true, positions })).catch((e: ServiceError) => e)) as ServiceError;
  t.equal(behind.code, Status.FAILED_PRECONDITION, 'bootstrap from a node behind is refused');
  t.match(behind.details, new RegExp(`behind ${b.id}`), 'naming the node ahead');
  const recovered = await collect<RecoverClusterResponse>(b.cluster.recoverCluster({ clusterId: CLUSTER, bootstrap: true, positions }));
  t.equal(recovered.at(-1)?.context?.status?.clusterSize, 1, 'the most advanced node starts the cluster');
  for (const n of [a, c]) await collect(n.cluster.recoverCluster({ clusterId: CLUSTER, bootstrap: false, positions: [] }));
  for (const n of nodes) await waitFor('a cluster of 3 again', () => serving(n, 3), 180_000);
  for (const n of nodes) t.equal(await rows(n), 'a0,a1,a2,b0,b1,c0,c1', 'no committed row lost');
  // The nodes behind rejoined by IST or, when the bootstrap node's gcache
  // no longer held what they lacked, by a full SST: either way the agent's
  // own account works on them.
  for (const n of [a, c]) t.match(await usersThroughAgent(n), /alice/, `the agent's own account works on ${n.id.slice(0, 8)} after RecoverCluster`);
});

t.test('grow to 4 (the list rewritten on every member, the new one joins) and shrink back to 3: every row on every member', async (t) => {
  // A prepared standalone instance (since the start of the file) joins.
  const d = spare;
  const member = d.member;
  t.notOk(await context(d), 'the new instance is no member yet');
  const old = [...nodes];
  nodes.push(d);
  for (const n of old) {
    const r = await call<object, { context: ClusterContext }>(n.cluster, 'setClusterMembers', { clusterId: CLUSTER, members: members() });
    t.equal(r.context.members.length, 4, `${n.id.slice(0, 8)} holds 4 members`);
  }
  await install(d, false);
  for (const n of nodes) await waitFor('a cluster of 4', () => serving(n, 4), 120_000);
  await sql(d, "INSERT INTO shop.t VALUES ('d0')");
  const sums = async (): Promise<string[]> => Promise.all(nodes.map((n) => sql(n, 'CHECKSUM TABLE shop.t').then((r) => r.split('\t')[1]!)));
  t.equal(new Set(await sums()).size, 1, 'CHECKSUM TABLE the same on all 4');
  t.match(readFileSync(path.join(old[0]!.baseDir, 'etc', 'my.cnf'), 'utf8'), new RegExp(`wsrep_cluster_address = gcomm://.*:${member.clusterPorts.gmcast}`), 'an old member\'s option file names the new member');

  // Shrink: the removed member leaves cleanly, the others drop it.
  const gone = nodes.shift()!;
  await call(gone.cluster, 'leaveCluster', { clusterId: CLUSTER });
  for (const n of nodes) await call(n.cluster, 'setClusterMembers', { clusterId: CLUSTER, members: members() });
  for (const n of nodes) await waitFor('a cluster of 3', () => serving(n, 3), 60_000);
  t.notOk(await context(gone), 'the removed instance is no member any more');
  await sql(nodes[0]!, "INSERT INTO shop.t VALUES ('e0')");
  for (const n of nodes) t.equal(await rows(n), 'a0,a1,a2,b0,b1,c0,c1,d0,e0', 'every row on the remaining members');
  t.equal(new Set(await sums()).size, 1, 'CHECKSUM TABLE the same on all 3');
  nodes.push(gone);
});
