// coffer.control.v1.InstanceService's replication calls against a real
// control with one real source (Redis) and one replica record: each refusal
// with its gRPC status and the control's error code, the proto3 defaults
// (replica_count 0 is one replica), and the replication fields of Instance.
import t from 'tap';
import { status as Status, type ServiceError } from '@grpc/grpc-js';
import { waitFor } from '../../support/agent.js';
import { ccall, startControl } from '../../support/control.js';
import { CreateInstanceRequest, InstanceStatus, type CreateInstanceResponse, type GetInstanceResponse } from '../../../proto/gen/coffer/control/v1/instances.js';

t.setTimeout(300_000);

t.test('CreateInstance with replica_of, PromoteToReplicaSource, EjectReplicaSource, DetachReplica', async (t) => {
  const control = await startControl(t);
  const token = control.token('shop');
  const rival = control.token('rival');
  const { instances } = control.clients;
  const create = (req: Partial<CreateInstanceRequest>, tok = token) => ccall<CreateInstanceResponse>(instances, 'createInstance', CreateInstanceRequest.fromPartial(req), tok);
  const get = async (id: string) => (await ccall<GetInstanceResponse>(instances, 'getInstance', { id }, token)).instance!;
  const refused = async (what: string, p: Promise<unknown>, code: Status, errorCode: string, message: RegExp): Promise<void> => {
    const err = await p.then(() => null, (e: ServiceError) => e);
    t.equal(err?.code, code, `${what}: gRPC status ${Status[code]} (${err?.details})`);
    t.equal(err?.metadata.get('coffer-error-code')[0], errorCode, `${what}: ${errorCode}`);
    t.match(err?.details ?? '', message, `${what}: says why`);
  };

  const src = (await create({ name: 'src', datastore: 'redis' })).instance!.id;
  const theirs = (await create({ name: 'theirs', datastore: 'redis' }, rival)).instance!.id;
  const active = await waitFor('the source to be ACTIVE', async () => {
    const i = await get(src);
    return i.status === InstanceStatus.INSTANCE_STATUS_ACTIVE && i.agentReachable ? i : false;
  }, 180_000);
  t.equal(active.role, 'standalone', 'a new instance is standalone');
  t.same(active.replicas, [], 'with no replicas');
  t.equal(active.replicaOf, undefined, 'and no source');

  const INVALID = 'CONTROL_ERR_INVALID_ARGUMENT';
  await refused('replica_count 4', create({ name: 'r', replicaOf: src, replicaCount: 4 }), Status.INVALID_ARGUMENT, INVALID, /replica_count must be a whole number from 1 to 3, got 4/);
  await refused('replica_count -1', create({ name: 'r', replicaOf: src, replicaCount: -1 }), Status.INVALID_ARGUMENT, INVALID, /replica_count must be a whole number from 1 to 3/);
  await refused('datastore beside replica_of', create({ name: 'r', replicaOf: src, datastore: 'redis' }), Status.INVALID_ARGUMENT, INVALID, /^datastore cannot be given with replica_of/);
  await refused('flavor_id beside replica_of', create({ name: 'r', replicaOf: src, flavorId: 'small' }), Status.INVALID_ARGUMENT, INVALID, /^flavor_id cannot be given with replica_of/);
  await refused('volume_size_gb beside replica_of', create({ name: 'r', replicaOf: src, volumeSizeGb: 2 }), Status.INVALID_ARGUMENT, INVALID, /^volume_size_gb cannot be given with replica_of/);
  await refused('users beside replica_of', create({ name: 'r', replicaOf: src, users: [{ name: 'u', host: '%', password: 'P-pass-1', databases: [], rules: [] }] }), Status.INVALID_ARGUMENT, INVALID, /^users cannot be given with replica_of/);
  await refused('root_password beside replica_of', create({ name: 'r', replicaOf: src, rootPassword: 'Root-pass-1' }), Status.INVALID_ARGUMENT, INVALID, /^root_password cannot be given with replica_of/);
  await refused('backup_id beside replica_of', create({ name: 'r', replicaOf: src, backupId: 'b' }), Status.INVALID_ARGUMENT, INVALID, /^backup_id cannot be given with replica_of/);
  await refused('replica_count without replica_of', create({ name: 'r', replicaCount: 2 }), Status.INVALID_ARGUMENT, INVALID, /replica_count is only for creating replicas/);
  await refused('auto_failover without replica_of', create({ name: 'r', autoFailover: true }), Status.INVALID_ARGUMENT, INVALID, /auto_failover is a setting of a replication set/);
  await refused('an unknown source', create({ name: 'r', replicaOf: 'nope' }), Status.NOT_FOUND, 'CONTROL_ERR_NOT_FOUND', /instance nope does not exist/);
  await refused('another project\'s source', create({ name: 'r', replicaOf: theirs }), Status.NOT_FOUND, 'CONTROL_ERR_NOT_FOUND', /does not exist/);
  await refused('promote a standalone', ccall(instances, 'promoteToReplicaSource', { id: src }, token), Status.INVALID_ARGUMENT, INVALID, /is not a replica/);
  await refused('eject a standalone', ccall(instances, 'ejectReplicaSource', { id: src }, token), Status.INVALID_ARGUMENT, INVALID, /has no replicas/);
  await refused('detach a standalone', ccall(instances, 'detachReplica', { id: src }, token), Status.INVALID_ARGUMENT, INVALID, /is not a replica/);
  await refused('promote another project\'s', ccall(instances, 'promoteToReplicaSource', { id: theirs }, token), Status.NOT_FOUND, 'CONTROL_ERR_NOT_FOUND', /does not exist/);

  // replica_count 0 is proto3's "not given": one replica, named as asked; auto_failover opted in.
  const made = await create({ name: 'r1', replicaOf: src, replicaCount: 0, autoFailover: true });
  const r1 = made.instance!;
  t.equal(r1.name, 'r1', 'one replica, no suffix');
  t.same(made.replicas.map((x) => x.id), [r1.id], 'replicas lists every replica made');
  t.equal(r1.role, 'replica', 'its role');
  t.equal(r1.replicaOf?.id, src, 'its source');
  t.equal(r1.replicaOf?.name, 'src', 'by name too');
  t.equal(r1.datastore, 'redis', 'the source\'s datastore');
  t.equal(r1.volumeSizeGb, active.volumeSizeGb, 'and volume size');
  t.equal(r1.lagBytes, -1, 'lag unknown (-1) before its agent reports');
  const s = await get(src);
  t.equal(s.role, 'source', 'the source\'s role');
  t.same(s.replicas.map((x) => [x.id, x.name]), [[r1.id, 'r1']], 'it lists the replica');
  t.equal(s.autoFailover, true, 'auto_failover is on for the set');

  await refused('a replica of a replica', create({ name: 'rr', replicaOf: r1.id }), Status.PERMISSION_DENIED, 'CONTROL_ERR_PERMISSION_DENIED', /is a replica of src .*a replica cannot have replicas/);
  await refused('eject a live source', ccall(instances, 'ejectReplicaSource', { id: src }, token), Status.INVALID_ARGUMENT, INVALID, /cannot be ejected: its agent was heard/);
  await refused('delete a source with replicas', ccall(instances, 'deleteInstance', { id: src }, token), Status.FAILED_PRECONDITION, 'CONTROL_ERR_CONFLICT', /promote one of them to replica source, or detach them/);
  await refused('promote while the set builds', ccall(instances, 'promoteToReplicaSource', { id: r1.id }, token), Status.FAILED_PRECONDITION, 'CONTROL_ERR_CONFLICT', /every member of the replication set ACTIVE/);
  await refused('detach while it builds', ccall(instances, 'detachReplica', { id: r1.id }, token), Status.FAILED_PRECONDITION, 'CONTROL_ERR_CONFLICT', /detach needs it ACTIVE/);
});
