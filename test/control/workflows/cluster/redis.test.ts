// A Redis Cluster through the real control, its gRPC ClusterService, the
// REST bridge, real agents and redis-server 7.0 (TLS only, as the control
// deploys them), one cluster for the file walked through in order:
// - create 3 masters + 1 replica through the real OpenStack CLI (the
//   replica named first: the control starts the cluster on the first
//   master); gRPC and REST show the roles (a bad role refused first);
// - one user created through one member's id logs in on every member (the
//   control relays it: Redis does not replicate ACL users); a key in every
//   one of the 16384 slots written and read back through a cluster client,
//   and `redis-cli -c` reads and writes through each member;
// - grow to 4 masters, shrink back to 3, the control killed -9 in the
//   middle of each (mid-rebalance, mid-leave) and started again: the
//   operation completes, the task is NONE, every key readable after each;
// - a second cluster (3 masters, built meanwhile): GET /clusters and
//   ListClusters page one cluster at a time (limit=1, the next link's
//   marker; page_size 1, the page token);
// - kill -9 of the master that has the replica (agent and redis-server):
//   Redis fails over, and the gRPC and REST views and `coffer cluster
//   show` show the replica as a master; a grow meanwhile is refused
//   naming the member that is away; its agent back, the old master shows
//   as a replica;
// - delete, the control killed -9 while the members are being deleted:
//   everything gone (the views' roles come from the heartbeats the
//   conductor records, docs/clusters.md "What the views show").
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { status as Status, type ServiceError } from '@grpc/grpc-js';
import { Cluster as RedisCluster } from 'ioredis';
import { ClusterTask, CreateClusterRequest, GrowClusterRequest, type Cluster, type CreateClusterResponse, type ListClustersResponse } from '../../../../proto/gen/coffer/control/v1/clusters.js';
import type { Instance } from '../../../../proto/gen/coffer/control/v1/instances.js';
import { ccall, startControl, type ControlHarness } from '../../../support/control.js';
import { clusterClient, getCluster, growCluster, waitClusterActive } from '../../../support/cluster.js';
import { waitFor } from '../../../support/agent.js';
import { redisCli } from '../../../support/redis-cli.js';
import { hashSlot } from '../../../support/redis-slot.js';
import { restClient } from '../../../support/openstack/rest.js';
import { openstack } from '../../../support/openstack/cli.js';
import { cliFor } from '../../../cli/coffer-cli.js';
import { killInstance, restartAgent } from '../../../support/replication.js';
import { killAtStep, taskEnded } from '../../../support/replication-crash.js';

t.setTimeout(15 * 60_000);

const USER = 'app';
const PASSWORD = 'App-redis-cluster-7';
const MASTER = { flavorId: 'small', volumeSizeGb: 1, role: 'master' };
// Five redis-servers share this host: small memory; a short node timeout
// makes the failover take seconds, not Redis's default 15.
const SMALL = ['--cluster-member-override', 'maxmemory=67108864', '--cluster-member-override', 'cluster-node-timeout=2000'];

// One key in every hash slot.
const KEYS: string[] = (() => {
  const bySlot = new Map<number, string>();
  for (let n = 0; bySlot.size < 16384; n++) {
    const k = `k:${n}`;
    const s = hashSlot(k);
    if (!bySlot.has(s)) bySlot.set(s, k);
  }
  return [...bySlot.values()];
})();
const value = (k: string): string => `v:${k}`;

t.test('a Redis Cluster through the control: create, accounts, every slot, grow, shrink, failover shown, delete', async (t) => {
  const t0 = Date.now();
  const mark = (what: string): void => void t.comment(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);
  const h: ControlHarness = await startControl(t, { heartbeatSeconds: 1, heartbeatExpirySeconds: 3, extraArgs: SMALL });
  const token = h.token('p1');
  let client = clusterClient(h);
  t.teardown(() => client.close());
  /** kill -9 of the control once the task is at `step`, started again; a fresh client for the new process. */
  const crashAt = async (taskId: string, step: string): Promise<void> => {
    const at = await killAtStep(h, taskId, step);
    t.match(at, /^task RUNNING, step /, `the control killed -9 during ${step} (${at}) and started again`);
    client.close();
    client = clusterClient(h);
  };
  const rest = restClient(h.restPort);
  const tls = { ca: h.datastoreCa };
  const cli = (i: Instance, ...args: string[]) => redisCli(i.port, USER, PASSWORD, ['-c', ...args], tls);
  const restTypes = async (id: string): Promise<Record<string, string>> => {
    const r = await rest('GET', `/v1.0/p1/clusters/${id}`, { token });
    return Object.fromEntries((r.body.cluster.instances as Array<{ name: string; type: string }>).map((m) => [m.name, m.type]));
  };
  const grpcRoles = (c: Cluster): Record<string, string> => Object.fromEntries(c.instances.map((i) => [i.name, i.clusterRole]));

  // Refused through gRPC: a role Redis Cluster has not.
  const badRole = await ccall<CreateClusterResponse>(client, 'createCluster', CreateClusterRequest.fromPartial({ name: 'bad', datastore: 'redis', instances: [MASTER, MASTER, { ...MASTER, role: 'leader' }] }), token).then(() => undefined, (e: ServiceError) => e);
  t.equal(badRole?.code, Status.INVALID_ARGUMENT, 'an unknown role is refused');
  t.match(badRole?.details, /instances\[2\]\.role "leader" is not a member role of redis-cluster; use master or replica/, `naming it: ${badRole?.details}`);

  // Create through the real OpenStack CLI, the replica listed first (the
  // control starts the cluster on the first master).
  const os = openstack(h.restPort, 'p1', token);
  const member = (type: string): string[] => ['--instance', `flavor=small,volume=1,type=${type}`];
  const made = await os.json<Record<string, unknown>>('database', 'cluster', 'create', 'r1', 'redis', '7.0', ...member('replica'), ...member('master'), ...member('master'), ...member('master'));
  const id = String(made.id);
  t.equal((await getCluster(client, token, id)).strategy, 'redis-cluster', 'the redis-cluster strategy');
  let cluster = await waitClusterActive(client, token, id, 4, 'every member ACTIVE');
  mark('created');
  t.same(grpcRoles(cluster), { 'r1-member-1': 'replica', 'r1-member-2': 'master', 'r1-member-3': 'master', 'r1-member-4': 'master' }, 'gRPC: the roles as Redis reports them');
  t.same(await restTypes(id), { 'r1-member-1': 'replica', 'r1-member-2': 'master', 'r1-member-3': 'master', 'r1-member-4': 'master' }, 'REST: the member types');
  const byName = (c: Cluster, n: string): Instance => c.instances.find((i) => i.name === n)!;
  const replica = byName(cluster, 'r1-member-1');

  // One user through one member's id: the control relays it to every member.
  await ccall(h.clients.accounts, 'createUsers', { instanceId: byName(cluster, 'r1-member-3').id, users: [{ name: USER, host: '', password: PASSWORD, databases: [], rules: ['~*', '&*', '+@all'] }] }, token);
  for (const i of cluster.instances) t.equal((await redisCli(i.port, USER, PASSWORD, ['PING'], tls)).stdout.trim(), 'PONG', `${i.name}: the user logs in`);

  const app = (c: Cluster): RedisCluster => {
    const r = new RedisCluster(c.instances.map((i) => ({ host: '127.0.0.1', port: i.port })), {
      redisOptions: { username: USER, password: PASSWORD, tls: { ca: readFileSync(h.datastoreCa) } },
      maxRedirections: 64,
    });
    r.on('error', () => undefined);
    return r;
  };
  /** Every key read through a cluster client that knows only these members; the missing or wrong ones. */
  const unreadable = async (c: Cluster): Promise<string[]> => {
    const r = app(c);
    try {
      const got = await Promise.all(KEYS.map((k) => r.get(k).catch((e: Error) => `error: ${e.message}`)));
      return got.flatMap((v, j) => (v === value(KEYS[j]!) ? [] : [`${KEYS[j]} -> ${v}`])).slice(0, 5);
    } finally {
      r.disconnect();
    }
  };
  const writer = app(cluster);
  const wrote = await Promise.all(KEYS.map((k) => writer.set(k, value(k)).catch((e: Error) => e.message)));
  writer.disconnect();
  t.same(wrote.filter((x) => x !== 'OK').slice(0, 5), [], `${KEYS.length} keys written, one in every slot`);
  t.same(await unreadable(cluster), [], 'every key read back');
  for (const [n, i] of cluster.instances.entries()) {
    const next = cluster.instances[(n + 1) % cluster.instances.length]!;
    t.equal((await cli(i, 'SET', `cli:${n}`, `w${n}`)).stdout.trim(), 'OK', `redis-cli -c writes through ${i.name}`);
    t.equal((await cli(next, 'GET', `cli:${n}`)).stdout.trim(), `w${n}`, `and reads it through ${next.name}`);
    t.equal((await cli(i, 'GET', KEYS[n * 4001]!)).stdout.trim(), value(KEYS[n * 4001]!), `a key of any slot read through ${i.name}`);
  }

  // Grow to 4 masters, the control killed -9 as the new member joins and
  // takes its share of the slots.
  const grow = await growCluster(client, token, GrowClusterRequest.fromPartial({ id, instances: [MASTER] }));
  await crashAt(grow.taskId, 'install-members');
  mark('grow: killed and restarted');
  t.equal(await taskEnded(h, grow.taskId), 'SUCCEEDED', 'the grow resumed and succeeded');
  cluster = await waitClusterActive(client, token, id, 5, 'grown to 4 masters');
  mark('grown');
  t.equal(cluster.task, ClusterTask.CLUSTER_TASK_NONE, 'the cluster\'s task is NONE');
  t.equal(grpcRoles(cluster)['r1-member-5'], 'master', 'the new member is a master');
  t.same(await unreadable(cluster), [], 'every key readable after the grow');
  // Shrink back to 3, the control killed -9 as the removed master moves its
  // slots away; after that restart every step is paused for a moment
  // (--step-delay-ms), so that a short step (delete-members) is seen.
  h.args.push('--step-delay-ms', '300');
  const gone = byName(cluster, 'r1-member-3');
  const shrink = await ccall<{ taskId: string }>(client, 'shrinkCluster', { id, instanceIds: [gone.id] }, token);
  await crashAt(shrink.taskId, 'leave');
  mark('shrink: killed and restarted');
  t.equal(await taskEnded(h, shrink.taskId), 'SUCCEEDED', 'the shrink resumed and succeeded');
  cluster = await waitClusterActive(client, token, id, 4, 'shrunk back to 3 masters');
  mark('shrunk');
  t.equal(cluster.task, ClusterTask.CLUSTER_TASK_NONE, 'the cluster\'s task is NONE');
  t.notOk(cluster.instances.some((i) => i.id === gone.id), 'the removed master is no longer listed');
  t.same(await unreadable(cluster), [], 'every key readable after the shrink');

  // A second cluster (its build overlaps the failover's waits below), then
  // paging: one cluster a page, in id order, then none.
  const other = (await ccall<CreateClusterResponse>(client, 'createCluster', CreateClusterRequest.fromPartial({ name: 'r2', datastore: 'redis', instances: [MASTER, MASTER, MASTER] }), token)).cluster!.id;
  const ids = [id, other].sort();
  const first = await rest('GET', '/v1.0/p1/clusters?limit=1', { token });
  t.same(first.body.clusters.map((x: { id: string }) => x.id), [ids[0]], 'GET /clusters?limit=1: the first cluster');
  const next = (first.body.links as Array<{ rel: string; href: string }> | undefined)?.find((l) => l.rel === 'next')?.href ?? '';
  t.match(next, new RegExp(`/v1\\.0/p1/clusters\\?limit=1&marker=${ids[0]}$`), `and a next link with its marker (${next})`);
  const second = await rest('GET', new URL(next).pathname + new URL(next).search, { token });
  t.same(second.body.clusters.map((x: { id: string }) => x.id), [ids[1]], 'following it: the other cluster');
  t.notOk(second.body.links, 'and no next link');
  const last = await rest('GET', `/v1.0/p1/clusters?limit=1&marker=${ids[1]}`, { token });
  t.same([last.status, last.body.clusters], [200, []], 'past the last: none');
  const page1 = await ccall<ListClustersResponse>(client, 'listClusters', { pageSize: 1, pageToken: '' }, token);
  const page2 = await ccall<ListClustersResponse>(client, 'listClusters', { pageSize: 1, pageToken: page1.nextPageToken }, token);
  t.same([page1.clusters.map((x) => x.id), page2.clusters.map((x) => x.id), page2.nextPageToken], [[ids[0]], [ids[1]], ''], 'ListClusters page_size 1: one, its page token, the other, no token');

  // kill -9 of the replica's master: Redis fails over; the views show it.
  // Its master, as a user finds it (ROLE is an admin command a tenant may not run).
  const info = (await redisCli(replica.port, USER, PASSWORD, ['INFO', 'replication'], tls)).stdout;
  t.match(info, /role:slave/, 'the replica follows a master');
  const master = cluster.instances.find((i) => i.port === Number(/master_port:(\d+)/.exec(info)?.[1]))!;
  t.ok(master, `its master is a member (${master?.name}): ${info.split('\n').slice(0, 4).join(' ')}`);
  killInstance(h, master.id);
  cluster = await waitFor('the control\'s view shows the replica as a master', async () => {
    const c = await getCluster(client, token, id);
    return grpcRoles(c)[replica.name] === 'master' && c;
  }, 120_000);
  t.pass(`gRPC: ${replica.name} took over from ${master.name}`);
  mark('failover shown');
  t.equal((await restTypes(id))[replica.name], 'master', 'REST: its type is master');
  const shown = await cliFor(h.address, token)(['cluster', 'show', 'r1']);
  t.match(shown.stdout, new RegExp(`${replica.name} \\(${replica.id}\\) master ACTIVE`), `coffer cluster show: ${replica.name} is a master`);
  t.same(await unreadable({ ...cluster, instances: cluster.instances.filter((i) => i.id !== master.id) }), [], 'every key readable after the failover');
  // A grow while a member is away is refused up front, naming it (its slots could not move).
  await waitFor('the old master shown unreachable', async () => !byName(await getCluster(client, token, id), master.name).agentReachable, 60_000);
  const away = await ccall(client, 'growCluster', GrowClusterRequest.fromPartial({ id, instances: [MASTER] }), token).then(() => undefined, (e: ServiceError) => e);
  t.equal(away?.code, Status.FAILED_PRECONDITION, 'a grow while a member is away is refused');
  t.match(away?.details, new RegExp(`member ${master.name} \\(${master.id}\\) is away`), `naming it: ${away?.details}`);
  restartAgent(h, master.id);
  await waitFor('the old master shows as a replica', async () => grpcRoles(await getCluster(client, token, id))[master.name] === 'replica', 120_000);
  t.pass(`${master.name}, its agent back, follows the new master`);
  mark('old master back');

  // Delete both, the control killed -9 while r1's members are being deleted.
  const others = (await waitClusterActive(client, token, other, 3, 'the second cluster ACTIVE')).instances;
  const delOther = (await ccall<{ taskId: string }>(client, 'deleteCluster', { id: other }, token)).taskId;
  const del = (await ccall<{ taskId: string }>(client, 'deleteCluster', { id }, token)).taskId;
  await crashAt(del, 'delete-members');
  mark('delete: killed and restarted');
  t.equal(await taskEnded(h, del), 'SUCCEEDED', 'the delete resumed and succeeded');
  t.equal(await taskEnded(h, delOther), 'SUCCEEDED', 'the second cluster\'s delete succeeded');
  mark('deleted');
  for (const cid of [id, other]) t.equal(await getCluster(client, token, cid).then(() => 'still there', (e: ServiceError) => e.code), Status.NOT_FOUND, `cluster ${cid} is gone`);
  for (const m of [...cluster.instances, ...others]) t.notOk(existsSync(path.join(h.dataDir, 'instances', m.id)), `${m.name}'s directory is removed`);
});
