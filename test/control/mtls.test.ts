// Mutual TLS between control and agents, against agents started by the
// local driver: an agent rejects a client without a certificate and a
// client with another instance's certificate; the conductor accepts a
// report only from the certificate of the instance it concerns, and drops
// one sent before the last accepted; the datastore's peer certificate
// (Redis Cluster's bus) speaks for no instance.
import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { credentials, Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { collect } from '../support/agent.js';
import { ccall, cstream, startControl } from '../support/control.js';
import { CreateInstanceRequest, InstanceStatus, type CreateInstanceResponse, type WatchInstanceResponse } from '../../proto/gen/coffer/control/v1/instances.js';
import { LifecycleServiceClient } from '../../proto/gen/coffer/agent/v1/lifecycle.js';
import { ConductorServiceClient, HeartbeatRequest } from '../../proto/gen/coffer/control/v1/conductor.js';
import { DatastoreState } from '../../proto/gen/coffer/agent/v1/lifecycle.js';

function unary<Res>(client: object, method: string, req: object): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = (client as Record<string, Function>)[method]!.bind(client);
    fn(req, new Metadata(), { deadline: Date.now() + 5000 }, (err: ServiceError | null, res: Res) => (err ? reject(err) : resolve(res)));
  });
}

t.test('agents and the conductor check certificates', async (t) => {
  const control = await startControl(t, { heartbeatSeconds: 60 });
  const token = control.token('sec');
  const ids = await Promise.all(['a', 'b'].map(async (name) => {
    const c = await ccall<CreateInstanceResponse>(control.clients.instances, 'createInstance', CreateInstanceRequest.fromPartial({ name }), token);
    const ev = await collect<WatchInstanceResponse>(cstream(control.clients.instances, 'watchInstance', { id: c.instance!.id }, token));
    t.equal(ev.filter((e) => e.instance).at(-1)!.instance!.status, InstanceStatus.INSTANCE_STATUS_ACTIVE, `instance ${name} is ACTIVE`);
    return c.instance!.id;
  }));
  const [a, b] = ids as [string, string];
  const dir = (id: string) => path.join(control.dataDir, 'instances', id);
  const agentAddress = (id: string) => (JSON.parse(readFileSync(path.join(dir(id), 'agent.json'), 'utf8')) as { listen: string }).listen;
  const read = (...p: string[]) => readFileSync(path.join(...p));
  const instancesCa = read(control.dataDir, 'ca', 'instances-ca.crt');
  const controlCa = read(control.dataDir, 'ca', 'control-ca.crt');
  const nameOf = (id: string) => ({ 'grpc.ssl_target_name_override': id, 'grpc.default_authority': id });

  // The control's own certificate is let in: the agent is up and checking.
  const asControl = new LifecycleServiceClient(agentAddress(a), credentials.createSsl(instancesCa, read(control.dataDir, 'ca', 'control.key'), read(control.dataDir, 'ca', 'control.crt')), nameOf(a));
  const ping = await unary<{ instanceId: string }>(asControl, 'ping', {});
  t.equal(ping.instanceId, a, 'the control\'s certificate is accepted, and the agent is instance A');
  asControl.close();

  const noCert = new LifecycleServiceClient(agentAddress(a), credentials.createSsl(instancesCa), nameOf(a));
  await t.rejects(unary(noCert, 'ping', {}), { code: Status.UNAVAILABLE }, 'a client without a certificate is rejected by the agent');
  noCert.close();

  const bCert = credentials.createSsl(instancesCa, read(dir(b), 'tls', 'instance.key'), read(dir(b), 'tls', 'instance.crt'));
  const bAsClient = new LifecycleServiceClient(agentAddress(a), bCert, nameOf(a));
  await t.rejects(unary(bAsClient, 'ping', {}), { code: Status.UNAVAILABLE }, 'instance B\'s certificate cannot call instance A\'s agent');
  bAsClient.close();

  // The conductor, as instance A (its own certificate, as its agent would).
  const conductorAddress = `127.0.0.1:${control.conductorPort}`;
  const aCert = credentials.createSsl(controlCa, read(dir(a), 'tls', 'instance.key'), read(dir(a), 'tls', 'instance.crt'));
  const asA = new ConductorServiceClient(conductorAddress, aCert, nameOf('coffer-control'));
  const hb = (instanceId: string, sentAtMs: number) => HeartbeatRequest.fromPartial({ instanceId, sentAtMs, state: DatastoreState.DATASTORE_STATE_ACTIVE });
  const now = Date.now() + 60_000;
  await t.rejects(unary(asA, 'heartbeat', hb(b, now)), { code: Status.PERMISSION_DENIED }, 'A\'s certificate reporting for B is rejected');
  t.match(await unary(asA, 'heartbeat', hb(a, now)), { accepted: true }, 'A reporting for A is accepted');
  t.match(await unary(asA, 'heartbeat', hb(a, now - 1000)), { accepted: false }, 'a report sent before the last accepted one is dropped');
  t.match(await unary(asA, 'heartbeat', hb(a, now + 1)), { accepted: true }, 'a newer one is accepted');
  asA.close();

  // The datastore's peer certificate (clientAuth, for Redis Cluster's bus) speaks for no instance.
  const peer = credentials.createSsl(controlCa, read(dir(a), 'tls', 'datastore-peer.key'), read(dir(a), 'tls', 'datastore-peer.crt'));
  const asPeer = new ConductorServiceClient(conductorAddress, peer, nameOf('coffer-control'));
  await t.rejects(unary(asPeer, 'heartbeat', hb(a, now + 3)), { code: Status.PERMISSION_DENIED }, 'A\'s datastore peer certificate cannot report for A');
  asPeer.close();
  const peerToAgent = new LifecycleServiceClient(agentAddress(a), credentials.createSsl(instancesCa, read(dir(a), 'tls', 'datastore-peer.key'), read(dir(a), 'tls', 'datastore-peer.crt')), nameOf(a));
  await t.rejects(unary(peerToAgent, 'ping', {}), { code: Status.UNAVAILABLE }, 'nor call A\'s agent');
  peerToAgent.close();

  const anonymous = new ConductorServiceClient(conductorAddress, credentials.createSsl(controlCa), nameOf('coffer-control'));
  await t.rejects(unary(anonymous, 'heartbeat', hb(a, now + 2)), { code: Status.UNAVAILABLE }, 'the conductor rejects a client without a certificate');
  anonymous.close();
});
