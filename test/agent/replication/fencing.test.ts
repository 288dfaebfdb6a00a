// The source lease through a real agent and redis-server, against a
// FAULT-INJECTING conductor (test/support/fault-conductor.ts) that answers
// the verdicts chosen here and can vanish: confirmation lifts the boot
// fence, a lapsed lease fences, FENCED is sticky, UNSPECIFIED is no news.
import t, { type Test } from 'tap';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { call, clientsFor, collect, startAgent, tempBase, type Clients } from '../../support/agent.js';
import { makePki } from '../../support/certs.js';
import { startFaultConductor, type FaultConductor } from '../../support/fault-conductor.js';
import { connectAs, refusal } from '../../support/redis-cli.js';
import { SourceVerdict } from '../../../proto/gen/coffer/control/v1/conductor.js';
import type { ReplicationStatus } from '../../../proto/gen/coffer/agent/v1/replication_state.js';
import { PREPARE } from '../managers/redis/fixtures/instance.js';
import { deployment, REPL_PASSWORD, ROOT_PASSWORD, until } from '../managers/redis/fixtures/replication.js';

const { CONFIRMED, FENCED, UNSPECIFIED } = {
  CONFIRMED: SourceVerdict.SOURCE_VERDICT_CONFIRMED,
  FENCED: SourceVerdict.SOURCE_VERDICT_FENCED,
  UNSPECIFIED: SourceVerdict.SOURCE_VERDICT_UNSPECIFIED,
};

/** A redis agent with mutual TLS, reporting to `conductor` twice a second. */
async function tlsAgent(t: Test, pki: ReturnType<typeof makePki>, conductorPort: number, baseDir?: string, datastorePort?: number, heartbeatSeconds = 0.3) {
  const d = deployment();
  const id = pki.issue('standalone', { server: true, dns: ['standalone'] });
  const dir = tempBase('coffer-fence-');
  const config = path.join(dir, 'agent.json');
  writeFileSync(config, JSON.stringify({ version: 1, controlEndpoint: `127.0.0.1:${conductorPort}`, heartbeatSeconds }));
  const agent = await startAgent(t, {
    datastore: 'redis',
    insecure: false,
    baseDir,
    datastorePort,
    extraArgs: ['--config', config, '--tls-cert', id.cert, '--tls-key', id.key, '--tls-ca', pki.ca, ...d.args],
  });
  const control = pki.issue('control-client');
  const clients = clientsFor(agent.address, credentials.createSsl(readFileSync(pki.ca), readFileSync(control.key), readFileSync(control.cert)));
  t.teardown(() => clients.close());
  return { agent, clients };
}

const status = async (c: Clients) => (await call<object, { status: ReplicationStatus }>(c.replication, 'getReplicationStatus', {})).status;

async function writable(port: number, t: { teardown(fn: () => unknown): void }): Promise<() => Promise<string>> {
  const root = await connectAs(t, port, '', ROOT_PASSWORD);
  return () => refusal(root.set(`k${Math.random()}`, '1'));
}

t.test('FAULT INJECTION (conductor verdicts): boot fence lifted by CONFIRMED, lease lapse, FENCED sticky, UNSPECIFIED no news', async (t) => {
  const pki = makePki();
  const conductor: FaultConductor = await startFaultConductor(t, pki);
  conductor.answer = { verdict: UNSPECIFIED, leaseMs: 0 };
  const { agent, clients } = await tlsAgent(t, pki, conductor.port);
  await collect(clients.lifecycle.prepare({ ...PREPARE, rootPassword: ROOT_PASSWORD }));
  await call(clients.replication, 'addReplicaAccess', { replicas: [{ replicaId: randomUUID(), password: REPL_PASSWORD }] });
  const write = await writable(agent.datastorePort, t);
  t.equal(await write(), '', 'a new source takes writes; UNSPECIFIED verdicts change nothing');
  await until('a heartbeat reporting the source role', async () => conductor.heartbeats.some((h) => h.replication?.role === 'source'));
  t.pass('heartbeats carry the replication status');

  // Restart: fenced until the control confirms.
  await agent.stop();
  conductor.answer = { verdict: UNSPECIFIED, leaseMs: 0 };
  const { agent: again, clients: c2 } = await tlsAgent(t, pki, conductor.port, agent.baseDir, agent.datastorePort);
  await until('the restarted source running', async () => (await status(c2)).position !== '');
  const write2 = await writable(again.datastorePort, t);
  t.match(await write2(), /NOREPLICAS/, 'back from a restart, the source refuses writes');
  const seen = conductor.heartbeats.length;
  await until('two more heartbeats answered UNSPECIFIED', async () => conductor.heartbeats.length >= seen + 2);
  t.match(await write2(), /NOREPLICAS/, 'UNSPECIFIED (an old control) does not lift the fence');
  t.equal((await status(c2)).fenced, true);

  conductor.answer = { verdict: CONFIRMED, leaseMs: 2000 };
  await until('writes accepted after CONFIRMED', async () => (await write2()) === '');
  t.equal((await status(c2)).fenced, false, 'confirmed: not fenced');

  // The control goes away: the lease runs out and the source fences itself.
  await conductor.close();
  const lapsedAt = Date.now();
  await until('writes refused once the lease lapsed', async () => /NOREPLICAS/.test(await write2()), 30_000);
  t.ok(Date.now() - lapsedAt < 15_000, 'fenced within the lease (2 s) and a heartbeat or two');
  t.equal((await status(c2)).fenced, true, 'reported fenced');
  t.match((await status(c2)).role, 'source', 'still a source, only fenced');
});

t.test('FAULT INJECTION (conductor verdicts): FENCED stays until the role changes, even if CONFIRMED follows', async (t) => {
  const pki = makePki();
  const conductor = await startFaultConductor(t, pki);
  conductor.answer = { verdict: CONFIRMED, leaseMs: 0 };
  const { agent, clients } = await tlsAgent(t, pki, conductor.port);
  await collect(clients.lifecycle.prepare({ ...PREPARE, rootPassword: ROOT_PASSWORD }));
  await call(clients.replication, 'addReplicaAccess', { replicas: [{ replicaId: randomUUID(), password: REPL_PASSWORD }] });
  const write = await writable(agent.datastorePort, t);
  t.equal(await write(), '', 'a confirmed source takes writes (lease 0: no limit)');

  conductor.answer = { verdict: FENCED, leaseMs: 0 };
  await until('writes refused after FENCED', async () => /NOREPLICAS/.test(await write()));
  t.equal((await status(clients)).fenced, true);
  conductor.answer = { verdict: CONFIRMED, leaseMs: 0 };
  const seen = conductor.heartbeats.length;
  await until('three more heartbeats answered CONFIRMED', async () => conductor.heartbeats.length >= seen + 3);
  t.match(await write(), /NOREPLICAS/, 'FENCED is kept until the control changes the role');
  t.ok(conductor.heartbeats.at(-1)!.replication!.fenced, 'the heartbeats say fenced');

  // A standalone or replica is never fenced by verdicts.
  const other = await tlsAgent(t, pki, conductor.port);
  await collect(other.clients.lifecycle.prepare({ ...PREPARE, rootPassword: ROOT_PASSWORD }));
  conductor.answer = { verdict: FENCED, leaseMs: 0 };
  const w2 = await writable(other.agent.datastorePort, t);
  const seen2 = conductor.heartbeats.length;
  await until('heartbeats answered FENCED', async () => conductor.heartbeats.length >= seen2 + 4);
  t.equal(await w2(), '', 'a standalone ignores a FENCED verdict');
});

t.test('FAULT INJECTION (conductor verdicts): a source holding a lease reports three times per lease, however long its heartbeat interval', async (t) => {
  const pki = makePki();
  const conductor: FaultConductor = await startFaultConductor(t, pki);
  conductor.answer = { verdict: CONFIRMED, leaseMs: 3000 };
  // One heartbeat an hour: without the renewal cadence only the first one would come.
  const { clients } = await tlsAgent(t, pki, conductor.port, undefined, undefined, 3600);
  await collect(clients.lifecycle.prepare({ ...PREPARE, rootPassword: ROOT_PASSWORD }));
  await call(clients.replication, 'addReplicaAccess', { replicas: [{ replicaId: randomUUID(), password: REPL_PASSWORD }] });
  await until('the agent to renew its lease with more heartbeats', async () => conductor.heartbeats.length >= 4, 60_000);
  t.pass(`${conductor.heartbeats.length} heartbeats while the lease is renewed`);
  const sources = conductor.heartbeats.filter((h) => h.replication?.role === 'source');
  t.ok(sources.length >= 1, 'the renewals report the instance as a source');
});
