// What a tenant with root on a PostgreSQL instance can read of its TLS keys,
// tried as the tenant would: root enabled through the REST API, then
// pg_read_file as that superuser (which reads files as the postgres OS
// user). The datastore's key is its own serving key, good for serving TLS
// only: the conductor refuses it as a client, and the control refuses it as
// an agent's server certificate. The agent's identity key is out of reach.
import t from 'tap';
import { createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { credentials, Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { startControl } from '../../support/control.js';
import { psql } from '../../support/psql.js';
import { restClient, troveSteps } from '../../support/openstack/rest.js';
import { ConductorServiceClient, HeartbeatRequest } from '../../../proto/gen/coffer/control/v1/conductor.js';
import { DatastoreState, LifecycleServiceService } from '../../../proto/gen/coffer/agent/v1/lifecycle.js';
import { AgentConnector, agentCall } from '../../../control/agent-client.js';
import { startGrpcServer } from '../../../lib/grpc-server.js';

t.setTimeout(600_000);

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

const publicKeyOf = (pem: string): string => createPublicKey(pem).export({ type: 'spki', format: 'pem' }).toString();

t.test('a tenant superuser reads the datastore\'s own serving key, never the instance\'s identity key', async (t) => {
  const control = await startControl(t);
  const token = control.token('shop');
  const request = restClient(control.restPort);
  const { create } = troveSteps(t, request, 'shop', token);
  const inst = await create('pg', { datastore: { type: 'postgresql', version: '15' } });
  const id = String(inst.id);
  const rootOn = await request('POST', `/v1.0/shop/instances/${id}/root`, { token });
  t.equal(rootOn.status, 200, `root enable: ${rootOn.text}`);
  const asRoot = (sql: string) => psql(Number(inst.port), String(rootOn.body?.user?.name), String(rootOn.body?.user?.password), sql);
  const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

  const instanceDir = path.join(control.dataDir, 'instances', id);
  const identityKeyFile = path.join(instanceDir, 'tls', 'instance.key');
  const identityKey = readFileSync(identityKeyFile, 'utf8');
  const datastoreKeyFile = path.join(instanceDir, 'base', 'etc', 'tls', 'server.key');
  const read = await asRoot(`SELECT pg_read_file(${literal(datastoreKeyFile)})`);
  t.equal(read.code, 0, `the datastore's key is readable by its server, so by its superuser: ${read.stderr}`);
  t.match(read.stdout, /BEGIN PRIVATE KEY/);
  t.not(publicKeyOf(read.stdout), publicKeyOf(identityKey), 'the key the tenant read is not the instance\'s identity key');

  for (const file of [identityKeyFile, path.join(control.dataDir, 'certs', id, 'instance.key')]) {
    const tried = await asRoot(`SELECT pg_read_file(${literal(file)})`);
    t.not(tried.code, 0, `${path.relative(control.dataDir, file)} cannot be read`);
    t.match(tried.stderr, /permission denied/i, tried.stderr);
    t.notMatch(tried.stdout, /PRIVATE KEY/);
  }

  // The serving certificate: the instance's name (verify-full works with
  // host=<instance id>), its key the one the tenant read, serving use only.
  const served = new X509Certificate(readFileSync(path.join(instanceDir, 'base', 'etc', 'tls', 'server.crt')));
  t.ok(served.checkHost(id), 'named for the instance id');
  t.equal(publicKeyOf(served.publicKey.export({ type: 'spki', format: 'pem' }).toString()), publicKeyOf(read.stdout));
  t.same(served.keyUsage, [SERVER_AUTH], 'extended key usage: serverAuth only');
  const tls = { PGSSLMODE: 'verify-full', PGSSLROOTCERT: path.join(control.dataDir, 'ca', 'instances-ca.crt'), PGHOST: id, PGHOSTADDR: '127.0.0.1' };
  const overTls = await psql(Number(inst.port), String(rootOn.body?.user?.name), String(rootOn.body?.user?.password), 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()', 'postgres', tls);
  t.equal(overTls.stdout, 't', `verify-full against the instances CA and the instance id: ${overTls.stderr}`);

  // Presented to the conductor as the instance, the stolen pair is refused
  // at the handshake; the identity pair is accepted.
  const controlCa = readFileSync(path.join(control.dataDir, 'ca', 'control-ca.crt'));
  const heartbeat = (key: string | Buffer, cert: Buffer) =>
    new Promise<unknown>((resolve, reject) => {
      const client = new ConductorServiceClient(`127.0.0.1:${control.conductorPort}`, credentials.createSsl(controlCa, Buffer.from(key), cert), {
        'grpc.ssl_target_name_override': 'coffer-control',
        'grpc.default_authority': 'coffer-control',
      });
      const req = HeartbeatRequest.fromPartial({ instanceId: id, sentAtMs: Date.now() + 60_000, state: DatastoreState.DATASTORE_STATE_ACTIVE });
      client.heartbeat(req, new Metadata(), { deadline: Date.now() + 10_000 }, (err: ServiceError | null, res: unknown) => {
        client.close();
        if (err) reject(err);
        else resolve(res);
      });
    });
  await t.rejects(heartbeat(read.stdout, readFileSync(path.join(instanceDir, 'base', 'etc', 'tls', 'server.crt'))), { code: Status.UNAVAILABLE }, 'the conductor refuses the serving pair as a client');
  t.match(await heartbeat(identityKey, readFileSync(path.join(instanceDir, 'tls', 'instance.crt'))), { accepted: true }, 'and accepts the identity pair');

  // Served as the agent's gRPC endpoint (say by someone who got between the
  // control and the agent), the stolen pair is refused by the control's
  // agent client; the real agent, with its identity, answers.
  const ca = path.join(control.dataDir, 'ca');
  const connector = new AgentConnector({ ca: path.join(ca, 'instances-ca.crt'), cert: path.join(ca, 'control.crt'), key: path.join(ca, 'control.key') });
  const impostor = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    tls: { cert: path.join(instanceDir, 'base', 'etc', 'tls', 'server.crt'), key: datastoreKeyFile, ca: path.join(ca, 'control-ca.crt') },
    register: (server) => server.addService(LifecycleServiceService, { ping: (_call: unknown, cb: (e: null, r: object) => void) => cb(null, { instanceId: id, agentVersion: 'impostor', datastore: 'postgresql' }) }),
  });
  t.teardown(() => impostor.close(0));
  const toImpostor = connector.connect(id, `127.0.0.1:${impostor.port}`);
  await t.rejects(agentCall(toImpostor.lifecycle, 'ping', {}, 10_000), { code: Status.UNAVAILABLE }, 'the control does not take the serving pair for the agent');
  toImpostor.close();
  const agentAddress = (JSON.parse(readFileSync(path.join(instanceDir, 'agent.json'), 'utf8')) as { listen: string }).listen;
  const toAgent = connector.connect(id, agentAddress);
  t.match(await agentCall(toAgent.lifecycle, 'ping', {}, 10_000), { instanceId: id }, 'and does take the agent\'s identity');
  toAgent.close();
});
