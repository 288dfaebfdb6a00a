// A cluster member's role in the views comes from the heartbeats the
// conductor recorded (control/service/cluster-role.ts), with no agent call:
// heartbeats go through the conductor's real handler into a real SQLite
// database; the gRPC call object is a stand-in carrying the instance
// certificate's CN (TLS itself is covered by test/control/mtls.test.ts).
// The end to end case (a Redis failover shown in gRPC, REST and the coffer
// CLI) is test/control/workflows/cluster/redis.test.ts.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import { openDatabase } from '../../../control/db/database.js';
import { InstanceStore } from '../../../control/store/instances.js';
import { conductorImplementation } from '../../../control/conductor/service.js';
import { memberRole } from '../../../control/service/cluster-role.js';
import type { ControlContext } from '../../../control/context.js';
import { createLogger } from '../../../lib/logger.js';
import { DatastoreState } from '../../../proto/gen/coffer/agent/v1/lifecycle.js';
import type { ClusterNodeStatus } from '../../../proto/gen/coffer/agent/v1/cluster.js';
import type { HeartbeatRequest, HeartbeatResponse } from '../../../proto/gen/coffer/control/v1/conductor.js';

t.test('the role each member last reported, kept while it is down (stand-in call identity)', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-cluster-role-'));
  const db = openDatabase(dir);
  t.teardown(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  db.prepare("INSERT INTO projects (name, created_at) VALUES ('p', 0)").run();
  const instances = new InstanceStore(db);
  const c = { db, log: createLogger({ level: 'silent' }), instances, config: { heartbeatExpiryMs: 3000, sourceLeaseMs: 3000 } } as unknown as ControlContext;
  const add = (id: string, role: string, cluster: string | null = 'c1'): void => {
    instances.insert({ id, project: 'p', name: id, datastore: 'redis', datastore_version: '7.0', flavor_id: 'small', volume_size_gb: 1, restored_from_backup_id: null, cluster_id: cluster, cluster_role: role });
  };
  add('m1', 'master');
  add('r1', 'replica');
  add('solo', '', null);
  const heartbeat = conductorImplementation(c).heartbeat;
  let sent = 1_700_000_000_000;
  const report = (id: string, status?: Partial<ClusterNodeStatus>): Promise<HeartbeatResponse> =>
    new Promise((resolve, reject) => {
      const request: Partial<HeartbeatRequest> = {
        instanceId: id,
        sentAtMs: ++sent,
        state: status?.running === false ? DatastoreState.DATASTORE_STATE_CRASHED : DatastoreState.DATASTORE_STATE_ACTIVE,
        reason: '',
        agentVersion: '0.1.0',
        datastorePort: 6379,
        cluster: status ? { clusterId: 'c1', strategy: 'redis-cluster', members: [], instanceId: id, status: { state: '', clusterSize: 0, ready: false, primary: false, clusterUuid: '', lastCommitted: 0, running: true, role: '', slots: 0, slotsMigrating: 0, ...status } } : undefined,
      };
      const call = { request, getAuthContext: () => ({ sslPeerCertificate: { subject: { CN: id } } }) } as unknown as ServerUnaryCall<HeartbeatRequest, HeartbeatResponse>;
      const cb: sendUnaryData<HeartbeatResponse> = (err, res) => (err ? reject(err) : resolve(res!));
      heartbeat(call, cb);
    });
  const role = (id: string): string => memberRole(instances, instances.get(id)!);

  t.same([role('m1'), role('r1')], ['master', 'replica'], 'no report yet: the role each was created with');
  await report('r1', { role: 'master', slots: 0 });
  t.equal(role('r1'), 'replica', 'a listed replica reporting itself an empty master (not yet following): still replica');
  await report('m1', { role: 'master', slots: 8192 });
  await report('r1', { role: 'replica' });
  t.same([role('m1'), role('r1')], ['master', 'replica'], 'as reported');
  // A failover: the replica took its master's slots; the master's datastore is down.
  await report('r1', { role: 'master', slots: 8192 });
  await report('m1', { running: false });
  t.same([role('m1'), role('r1')], ['master', 'master'], 'the replica that took over is a master; the member that is down shows what it last reported');
  t.equal(instances.heartbeat('m1')!.cluster_slots, 8192, 'its slot count is kept too');
  const last = JSON.parse(instances.heartbeat('m1')!.cluster) as { running?: boolean; slots?: number };
  t.ok(!last.running && !last.slots, `while the last status as sent says it is down (${JSON.stringify(last)})`);
  await report('m1', { role: 'replica', slots: 0 });
  t.equal(role('m1'), 'replica', 'back, it follows the new master');
  await report('solo');
  t.equal(role('solo'), '', 'an instance of no cluster has no role');
  t.equal(instances.heartbeat('solo')!.cluster, '', 'and no cluster view recorded');
});
