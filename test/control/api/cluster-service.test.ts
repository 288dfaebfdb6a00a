// Bad cluster requests through the real control's gRPC ClusterService are
// refused before anything is built, each with its status and a message
// naming the field or the problem. No cluster is built here (the walk
// through a real Galera cluster is test/control/workflows/cluster/).
import t from 'tap';
import { status as Status, type ServiceError } from '@grpc/grpc-js';
import { CreateClusterRequest, GrowClusterRequest, ListClustersRequest, type ListClustersResponse } from '../../../proto/gen/coffer/control/v1/clusters.js';
import { ccall, startControl } from '../../support/control.js';
import { clusterClient } from '../../support/cluster.js';

t.test('bad cluster requests are refused naming what is wrong; nothing is recorded', async (t) => {
  const h = await startControl(t);
  const token = h.token('p1');
  const client = clusterClient(h);
  t.teardown(() => client.close());
  const small = { flavorId: 'small', volumeSizeGb: 1 };
  const refuse = async (method: string, req: object, code: Status, pattern: RegExp, what: string): Promise<void> => {
    const err = (await ccall(client, method, req, token).then(() => undefined, (e: ServiceError) => e));
    t.equal(err?.code, code, `${what}: status ${Status[code]}`);
    t.match(err?.details ?? '', pattern, `${what}: ${err?.details}`);
  };
  const create = (req: object) => CreateClusterRequest.fromPartial({ name: 'c1', datastore: 'mariadb', instances: [small, small, small], ...req });
  await refuse('createCluster', create({ instances: [small, small] }), Status.INVALID_ARGUMENT, /instances has 2 members: a galera cluster needs at least 3/, 'a 2-member Galera');
  await refuse('createCluster', create({ instances: [small, { flavorId: 'medium', volumeSizeGb: 1 }, small] }), Status.INVALID_ARGUMENT, /instances\[1\]\.flavor_id "medium" differs from instances\[0\]/, 'mixed flavors');
  await refuse('createCluster', create({ instances: [small, small, { flavorId: 'small', volumeSizeGb: 2 }] }), Status.INVALID_ARGUMENT, /instances\[2\]\.volume_size_gb 2 GB differs/, 'mixed volume sizes');
  await refuse('createCluster', create({ instances: [small, { flavorId: 'huge' }, small] }), Status.INVALID_ARGUMENT, /instances\[1\]\.flavor_id "huge" is not a known flavor/, 'an unknown flavor');
  await refuse('createCluster', create({ datastore: 'cassandra' }), Status.INVALID_ARGUMENT, /datastore "cassandra" is not known/, 'an unknown datastore');
  await refuse('createCluster', create({ datastoreVersion: '5.5' }), Status.INVALID_ARGUMENT, /mariadb 5\.5 is not known/, 'an unknown version');
  await refuse('createCluster', create({ datastore: 'postgresql' }), Status.INVALID_ARGUMENT, /postgresql has no cluster strategy; clusters are offered for mariadb/, 'a datastore without a cluster strategy');
  await refuse('createCluster', create({ instances: [{ ...small, role: 'master' }, small, small] }), Status.INVALID_ARGUMENT, /instances\[0\]\.role "master" is not a member role of galera/, 'a role Galera has not');
  await refuse('createCluster', create({ name: ' ' }), Status.INVALID_ARGUMENT, /name is required/, 'no name');
  await refuse('createCluster', create({ datastore: '' }), Status.INVALID_ARGUMENT, /datastore is required/, 'no datastore');
  await refuse('getCluster', { id: 'nope' }, Status.NOT_FOUND, /cluster nope does not exist/, 'an unknown cluster');
  await refuse('growCluster', GrowClusterRequest.fromPartial({ id: 'nope', instances: [small] }), Status.NOT_FOUND, /cluster nope/, 'grow of an unknown cluster');
  await refuse('shrinkCluster', { id: 'nope', instanceIds: ['x'] }, Status.NOT_FOUND, /cluster nope/, 'shrink of an unknown cluster');
  await refuse('deleteCluster', { id: 'nope' }, Status.NOT_FOUND, /cluster nope/, 'delete of an unknown cluster');
  const err = await ccall(client, 'listClusters', ListClustersRequest.fromPartial({}), '').then(() => undefined, (e: ServiceError) => e);
  t.equal(err?.code, Status.UNAUTHENTICATED, 'no token: UNAUTHENTICATED');
  const list = await ccall<ListClustersResponse>(client, 'listClusters', ListClustersRequest.fromPartial({}), token);
  t.same(list.clusters, [], 'no cluster was recorded');
});
