// A configuration group carried by a Redis Cluster (the smallest real
// cluster: 3 masters, small buffers), through the real control, the real
// OpenStack CLI, real agents and redis-server 7.0 (TLS, as the control
// deploys them): created with the group, every member runs its values
// (CONFIG GET, through GET /instances/{id}/configuration) beside the
// control's member overrides; a change of the group is re-applied to
// every member; a member added by grow gets it; the group
// cannot be attached to a member alone nor deleted while the cluster has it,
// and can once the cluster is gone (docs/configuration-groups.md).
import t from 'tap';
import { GrowClusterRequest, type Cluster } from '../../../../proto/gen/coffer/control/v1/clusters.js';
import type { Instance } from '../../../../proto/gen/coffer/control/v1/instances.js';
import { startControl } from '../../../support/control.js';
import { clusterClient, growCluster, waitClusterActive } from '../../../support/cluster.js';
import { waitFor } from '../../../support/agent.js';
import { restClient } from '../../../support/openstack/rest.js';
import { openstack } from '../../../support/openstack/cli.js';
import { cliFor } from '../../../cli/coffer-cli.js';

t.setTimeout(6 * 60_000);

const MASTER = { flavorId: 'small', volumeSizeGb: 1, role: 'master' };
const SMALL = ['--cluster-member-override', 'maxmemory=67108864', '--cluster-member-override', 'cluster-node-timeout=2000'];

t.test('a cluster created with a configuration group: every member runs it, a change reaches every member, a grown member gets it', async (t) => {
  const t0 = Date.now();
  const mark = (what: string): void => void t.comment(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);
  const h = await startControl(t, { heartbeatSeconds: 1, heartbeatExpirySeconds: 3, extraArgs: SMALL });
  const token = h.token('p1');
  const client = clusterClient(h);
  t.teardown(() => client.close());
  const rest = restClient(h.restPort);
  const os = openstack(h.restPort, 'p1', token);
  // What each member's redis-server runs with now: CONFIG GET, read by its
  // agent (`openstack database configuration default`).
  const configGet = async (i: Instance, name: string): Promise<string> => {
    const r = await rest('GET', `/v1.0/p1/instances/${i.id}/configuration`, { token });
    if (r.status !== 200) throw new Error(`GET /instances/${i.id}/configuration: ${r.status} ${JSON.stringify(r.body)}`);
    return String((r.body.instance.configuration as Record<string, unknown>)[name]);
  };

  const group = await os.json<Record<string, unknown>>('database', 'configuration', 'create', 'cache', '{"maxmemory-policy": "allkeys-lru", "hz": 20}', '--datastore', 'redis', '--datastore-version', '7.0');
  const gid = String(group.id);
  // coffer: the group by name, refused for a cluster of another datastore.
  const coffer = cliFor(h.address, token);
  const other = await coffer(['cluster', 'create', 'm1', '--datastore', 'mariadb', '--configuration', 'cache', '--no-wait']);
  t.not(other.code, 0, 'coffer cluster create --configuration of a redis group for a mariadb cluster is refused');
  t.match(other.stderr, /configuration cache \(.*\) is for redis 7\.0, not mariadb/, `naming both: ${other.stderr.trim()}`);

  const unknown = await rest('POST', '/v1.0/p1/clusters', { token, body: { cluster: { name: 'x', datastore: { type: 'redis', version: '7.0' }, instances: [1, 2, 3].map(() => ({ flavorRef: 'small', volume: { size: 1 } })), configuration: 'nosuch' } } });
  t.equal(unknown.status, 404, 'REST cluster create with an unknown group: 404');
  t.match(unknown.text, /configuration nosuch does not exist/, 'naming it');

  const member = ['--instance', 'flavor=small,volume=1,type=master'];
  const made = await os.json<Record<string, unknown>>('database', 'cluster', 'create', 'c1', 'redis', '7.0', ...member, ...member, ...member, '--configuration', gid);
  t.equal(made.configuration, gid, 'cluster create (openstack CLI --configuration) shows the group');
  const id = String(made.id);
  let cluster: Cluster = await waitClusterActive(client, token, id, 3, 'every member ACTIVE');
  mark('created');
  t.equal(cluster.configurationId, gid, 'gRPC: the cluster carries the group');
  t.same(cluster.instances.map((i) => i.configurationId), [gid, gid, gid], 'gRPC: every member shows the group');

  for (const i of cluster.instances) {
    t.equal(await configGet(i, 'maxmemory-policy'), 'allkeys-lru', `${i.name}: the group's maxmemory-policy from its first start`);
    t.equal(await configGet(i, 'hz'), '20', `${i.name}: the group's hz`);
    t.equal(await configGet(i, 'maxmemory'), '67108864', `${i.name}: the control's member override kept beside the group`);
  }

  // A member alone takes no group; the cluster's group is not deleted.
  const alone = await rest('PUT', `/v1.0/p1/instances/${cluster.instances[1]!.id}`, { token, body: { instance: { configuration: null } } });
  t.equal(alone.status, 400, 'detaching the group from one member is refused');
  t.match(JSON.stringify(alone.body), new RegExp(`member of cluster ${id}`), 'naming the cluster');
  const busy = await os.run('database', 'configuration', 'delete', gid);
  t.not(busy.code, 0, 'configuration delete refused while the cluster carries the group');
  t.match(busy.stderr, new RegExp(`group of cluster ${id}`), `naming the cluster: ${busy.stderr.trim()}`);

  // A change re-applied to every member.
  await os.ok('database', 'configuration', 'parameter', 'set', gid, '{"maxmemory-policy": "volatile-lru"}');
  for (const i of cluster.instances) {
    await waitFor(`${i.name} runs the changed maxmemory-policy`, async () => (await configGet(i, 'maxmemory-policy')) === 'volatile-lru', 120_000);
    t.pass(`${i.name}: the change re-applied (CONFIG GET maxmemory-policy volatile-lru)`);
    t.equal(await configGet(i, 'maxmemory'), '67108864', `${i.name}: the member override still in force`);
  }
  mark('re-applied');

  // A member added by grow gets the group.
  await growCluster(client, token, GrowClusterRequest.fromPartial({ id, instances: [MASTER] }));
  cluster = await waitClusterActive(client, token, id, 4, 'the grown cluster ACTIVE');
  mark('grown');
  const grown = cluster.instances[3]!;
  t.equal(grown.configurationId, gid, `${grown.name} shows the group`);
  t.equal(await configGet(grown, 'maxmemory-policy'), 'volatile-lru', `${grown.name}: the group's value as it is now`);
  t.equal(await configGet(grown, 'maxmemory'), '67108864', `${grown.name}: and the member override`);

  t.match((await coffer(['cluster', 'show', 'c1'])).stdout, new RegExp(`^configuration +${gid}$`, 'm'), 'coffer cluster show: the group');

  // Once the cluster is gone, the group can go.
  await os.ok('database', 'cluster', 'delete', id);
  await waitFor('the cluster deleted', async () => (await rest('GET', `/v1.0/p1/clusters/${id}`, { token })).status === 404, 120_000);
  await os.ok('database', 'configuration', 'delete', gid);
  t.equal((await rest('GET', `/v1.0/p1/configurations/${gid}`, { token })).status, 404, 'the group deleted once no cluster carries it');
  mark('deleted');
});
