// A 3-node MariaDB Galera cluster through the real control, its gRPC
// ClusterService and real agents and mariadbd, walked through in order
// (one cluster for the file: the suite's time is watched):
// - create, with the control killed -9 at sampled steps of the create
//   (mid-Prepare, mid-install of the joiners, at CompleteCluster) and
//   started again: the task resumes, every member ends ACTIVE, one agent
//   per member; WatchCluster streams every member's InstallCluster;
// - a database and a user made through one member's id work on every
//   member, and a row written through one is read on all;
// - a member alone cannot be deleted or resized (400 naming the cluster),
//   a foreign instance cannot be shrunk away (400 naming it);
// - grow to 4, shrink back to 3: CHECKSUM TABLE equal on every member, the
//   removed instance gone;
// - full outage: every member's mariadbd and agent killed -9 (a row
//   committed after the first died), the agents started again: the
//   control recovers from the most advanced member (killed -9 itself as
//   the recovery is about to bootstrap, and started again), no committed
//   row lost;
// - delete: a grow while it runs is refused (409), then everything is gone.
import t from 'tap';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { status as Status, type ServiceError } from '@grpc/grpc-js';
import { ClusterTask, CreateClusterRequest, GrowClusterRequest, type Cluster, type CreateClusterResponse, type WatchClusterResponse } from '../../../../proto/gen/coffer/control/v1/clusters.js';
import type { Instance } from '../../../../proto/gen/coffer/control/v1/instances.js';
import { ccall, cstream, startControl } from '../../../support/control.js';
import { clusterClient, getCluster, growCluster, waitClusterActive } from '../../../support/cluster.js';
import { waitFor } from '../../../support/agent.js';
import { mariadb } from '../../../support/mariadb-client.js';
import { killInstance, restartAgent } from '../../../support/replication.js';
import { agentsPerInstance, killAtStep, readDb, taskEnded } from '../../../support/replication-crash.js';

t.setTimeout(30 * 60_000);

const USER = 'alice';
const PASSWORD = 'Al1ce-galera-9';
const MEMBER = { flavorId: 'small', volumeSizeGb: 1 };
// Several members share this host: small buffers.
const SMALL = ['--cluster-member-override', 'innodb_buffer_pool_size=33554432'];
const CRASH_STEPS = ['build-members', 'install-joiners', 'complete'];
// The pause before each step of every task in this file (create, grow,
// shrink, recovery, delete: some 25 steps, resumed ones again) holds a task
// at a step long enough for killAtStep's poll to see it: 500 ms, as the
// replication crash tests run with (the short step, complete, is held by
// the pause before activate too). It was 1000 ms.
const STEP_DELAY_MS = 500;

const sql = async (port: number, statement: string): Promise<string> => {
  const r = await mariadb(port, USER, PASSWORD, statement, 'shop');
  if (r.code !== 0) throw new Error(`SQL on port ${port} failed: ${r.stderr}`);
  return r.stdout.trim();
};
const rows = (i: Instance): Promise<string> => sql(i.port, 'SELECT GROUP_CONCAT(v ORDER BY v) FROM t');
const checksums = async (c: Cluster): Promise<Set<string>> => new Set(await Promise.all(c.instances.map(async (i) => (await sql(i.port, 'CHECKSUM TABLE t')).split('\t')[1]!)));

const refusal = async (p: Promise<unknown>): Promise<ServiceError | undefined> => p.then(() => undefined, (e: ServiceError) => e);

t.test('a Galera cluster through the control: create (the control killed mid-create), accounts, grow, shrink, full outage, delete', async (t) => {
  const h = await startControl(t, { heartbeatSeconds: 1, heartbeatExpirySeconds: 3, stepDelayMs: STEP_DELAY_MS, extraArgs: SMALL });
  const token = h.token('p1');
  let client = clusterClient(h);
  t.teardown(() => client.close());

  // Create, killing the control at sampled steps.
  const created = await ccall<CreateClusterResponse>(client, 'createCluster', CreateClusterRequest.fromPartial({ name: 'g1', datastore: 'mariadb', instances: [MEMBER, MEMBER, MEMBER] }), token);
  const id = created.cluster!.id;
  t.same(created.cluster!.instances.map((i) => i.name), ['g1-member-1', 'g1-member-2', 'g1-member-3'], 'members named NAME-member-N');
  t.equal(created.cluster!.task, ClusterTask.CLUSTER_TASK_BUILDING, 'the cluster is BUILDING');
  for (const step of CRASH_STEPS) {
    const at = await killAtStep(h, created.taskId, step);
    t.comment(`killed the control at ${step} (${at})`);
    client.close();
    client = clusterClient(h);
  }
  const watched: WatchClusterResponse[] = [];
  const watch = new Promise<void>((resolve, reject) => {
    const s = cstream<WatchClusterResponse>(client, 'watchCluster', { id }, token);
    s.on('data', (m: WatchClusterResponse) => watched.push(m));
    s.on('end', resolve);
    s.on('error', reject);
  });
  t.equal(await taskEnded(h, created.taskId), 'SUCCEEDED', 'the create task resumed and succeeded');
  await watch;
  let cluster = await waitClusterActive(client, token, id, 3, 'every member ACTIVE');
  t.equal(watched.at(-1)?.cluster?.task, ClusterTask.CLUSTER_TASK_NONE, 'WatchCluster ended with the task NONE');
  const said = watched.flatMap((m) => (m.progress ? [m.progress.message] : []));
  for (const n of ['g1-member-1', 'g1-member-2', 'g1-member-3']) t.ok(said.some((m) => m.startsWith(`${n}: the node serves as a member`) || m.startsWith(`${n}: already a serving member`)), `WatchCluster showed ${n}'s InstallCluster`);
  t.same([...agentsPerInstance(h).values()], [1, 1, 1], 'one agent per member');
  const [m1, m2, m3] = cluster.instances as [Instance, Instance, Instance];

  // Accounts through one member's id hold on every member.
  await ccall(h.clients.accounts, 'createDatabases', { instanceId: m2.id, databases: [{ name: 'shop', characterSet: '', collation: '' }] }, token);
  await ccall(h.clients.accounts, 'createUsers', { instanceId: m2.id, users: [{ name: USER, host: '%', password: PASSWORD, databases: ['shop'], rules: [] }] }, token);
  await sql(m1.port, 'CREATE TABLE t (v VARCHAR(16) PRIMARY KEY) ENGINE=InnoDB');
  await sql(m1.port, "INSERT INTO t VALUES ('a1')");
  for (const m of cluster.instances) t.equal(await waitFor(`the row on ${m.name}`, async () => (await rows(m)) || false), 'a1', `${m.name}: the user made through ${m2.name} reads the row written through ${m1.name}`);

  // A member alone: refused naming the cluster; a foreign instance is not shrunk.
  const del = await refusal(ccall(h.clients.instances, 'deleteInstance', { id: m3.id }, token));
  t.equal(del?.code, Status.INVALID_ARGUMENT, 'deleting a member alone is refused');
  t.match(del?.details, new RegExp(`member of cluster g1 \\(${id}\\)`), `naming the cluster: ${del?.details}`);
  const resize = await refusal(ccall(h.clients.instances, 'resizeVolume', { id: m3.id, volumeSizeGb: 2 }, token));
  t.equal(resize?.code, Status.INVALID_ARGUMENT, 'resizing a member alone is refused');
  const foreign = await refusal(ccall(client, 'shrinkCluster', { id, instanceIds: ['0000-foreign'] }, token));
  t.equal(foreign?.code, Status.INVALID_ARGUMENT, 'shrink of a foreign instance is refused');
  t.match(foreign?.details, /instance 0000-foreign is not a member of cluster g1/, `naming it: ${foreign?.details}`);
  const below = await refusal(ccall(client, 'shrinkCluster', { id, instanceIds: [m1.id] }, token));
  t.match(below?.details, /would keep 2 members: a galera cluster needs at least 3/, 'shrink below 3 is refused');

  // Grow to 4, shrink back to 3.
  const grown = await growCluster(client, token, GrowClusterRequest.fromPartial({ id, instances: [MEMBER] }));
  t.equal(grown.cluster?.task, ClusterTask.CLUSTER_TASK_GROWING_CLUSTER, 'GROWING_CLUSTER');
  const busy = await refusal(ccall(client, 'growCluster', GrowClusterRequest.fromPartial({ id, instances: [MEMBER] }), token));
  t.equal(busy?.code, Status.FAILED_PRECONDITION, 'a second grow while one runs: 409');
  cluster = await waitClusterActive(client, token, id, 4, 'grown to 4');
  const m4 = cluster.instances[3]!;
  t.equal(m4.name, 'g1-member-4', 'the new member is NAME-member-4');
  await sql(m4.port, "INSERT INTO t VALUES ('b4')");
  t.equal((await checksums(cluster)).size, 1, 'CHECKSUM TABLE the same on all 4');
  await ccall(client, 'shrinkCluster', { id, instanceIds: [m1.id] }, token);
  cluster = await waitClusterActive(client, token, id, 3, 'shrunk to 3');
  t.notOk(cluster.instances.some((i) => i.id === m1.id), 'the removed member is no longer listed');
  t.equal((await refusal(ccall(h.clients.instances, 'getInstance', { id: m1.id }, token)))?.code, Status.NOT_FOUND, 'the removed instance is gone');
  t.notOk(existsSync(path.join(h.dataDir, 'instances', m1.id)), 'its directory is removed');
  await sql(cluster.instances[0]!.port, "INSERT INTO t VALUES ('c2')");
  for (const m of cluster.instances) t.equal(await rows(m), 'a1,b4,c2', `${m.name}: every row`);
  t.equal((await checksums(cluster)).size, 1, 'CHECKSUM TABLE the same on all 3');

  // Full outage: one member dies, a row is committed on the other two, then they die too.
  const [x, y, z] = cluster.instances as [Instance, Instance, Instance];
  killInstance(h, z.id);
  await waitFor('the others commit without it', async () => (await sql(x.port, "INSERT IGNORE INTO t VALUES ('d1')").then(() => true, () => false)), 120_000);
  killInstance(h, x.id);
  killInstance(h, y.id);
  for (const m of [x, y, z]) restartAgent(h, m.id);
  const recovering = await waitFor('the recovery starts', async () => {
    const c = await getCluster(client, token, id);
    return c.task === ClusterTask.CLUSTER_TASK_RESTARTING_CLUSTER ? c : false;
  }, 180_000);
  t.ok(recovering.taskId, 'the control started RESTARTING_CLUSTER by itself');
  // The control dies as the recovery is about to bootstrap; it resumes after its restart.
  t.comment(`killed the control at the recovery's bootstrap (${await killAtStep(h, recovering.taskId, 'bootstrap')})`);
  client.close();
  client = clusterClient(h);
  cluster = await waitClusterActive(client, token, id, 3, 'recovered');
  const rec = readDb(h, (db) => JSON.parse((db.prepare("SELECT data FROM tasks WHERE kind = 'cluster-recover' AND resource_id = ?").get(id) as { data: string }).data) as { bootstrapId: string; positions: Array<{ instanceId: string; seqno: number }> });
  const seqno = (mid: string): number => rec.positions.find((p) => p.instanceId === mid)!.seqno;
  t.not(rec.bootstrapId, z.id, 'not started again from the member that died first');
  t.ok(seqno(z.id) < seqno(rec.bootstrapId), `started from the most advanced member (${JSON.stringify(rec.positions.map((p) => p.seqno))})`);
  for (const m of cluster.instances) t.equal(await waitFor(`${m.name} serves`, () => rows(m).catch(() => false), 180_000), 'a1,b4,c2,d1', `${m.name}: no committed row lost`);

  // Delete: a grow while it runs is refused; then everything is gone.
  const delTask = (await ccall<{ taskId: string }>(client, 'deleteCluster', { id }, token)).taskId;
  const late = await refusal(ccall(client, 'growCluster', GrowClusterRequest.fromPartial({ id, instances: [MEMBER] }), token));
  t.equal(late?.code, Status.FAILED_PRECONDITION, 'a grow of a cluster being deleted: 409');
  t.match(late?.details, /is being deleted/, `saying so: ${late?.details}`);
  t.equal(await taskEnded(h, delTask), 'SUCCEEDED', 'the delete succeeded');
  t.equal((await refusal(getCluster(client, token, id)))?.code, Status.NOT_FOUND, 'the cluster is gone');
  for (const m of cluster.instances) {
    t.equal((await refusal(ccall(h.clients.instances, 'getInstance', { id: m.id }, token)))?.code, Status.NOT_FOUND, `${m.name} is gone`);
    t.notOk(existsSync(path.join(h.dataDir, 'instances', m.id)), `${m.name}'s directory is removed`);
  }
  t.equal(agentsPerInstance(h).size, 0, 'no agent runs');
});
