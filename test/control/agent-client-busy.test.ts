// An agent busy with another operation (its lock held: AGENT_ERR_BUSY,
// ABORTED) is relayed by the control as CONTROL_ERR_BUSY: ABORTED on gRPC,
// 409 on REST. ABORTED is what lib/retryable.ts retries, so an API client
// following it asks again, where FAILED_PRECONDITION would have told it
// not to. The real agent takes its lock only around lifecycle operations,
// none of which the control relays synchronously: the busy agent is
// injected, a server on the agent's address and identity answering with
// the agent's own lock and error table.
import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Server, ServerCredentials, status as Status, type ServiceError, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { AccountServiceService } from '../../proto/gen/coffer/agent/v1/accounts.js';
import { OperationLock } from '../../agent/lock.js';
import { toServiceError } from '../../agent/errors.js';
import { createLogger } from '../../lib/logger.js';
import { isRetryable } from '../../lib/retryable.js';
import { agentPids, ccall, startControl } from '../support/control.js';
import { restClient, troveSteps } from '../support/openstack/rest.js';

t.setTimeout(600_000);

interface BootConfig {
  listen: string;
  tlsCert: string;
  tlsKey: string;
  tlsCa: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** An injected agent whose every account call meets `lock`, held by another operation. */
async function busyAgent(boot: BootConfig, lock: OperationLock): Promise<Server> {
  const silent = createLogger({ level: 'silent' });
  const server = new Server();
  const impl: UntypedServiceImplementation = {};
  for (const name of Object.keys(AccountServiceService)) {
    impl[name] = (_call: unknown, cb: (err: Partial<ServiceError> | null, res?: unknown) => void) => {
      lock.run(name, async () => ({})).then((res) => cb(null, res), (err: unknown) => cb(toServiceError(err, silent, name)));
    };
  }
  server.addService(AccountServiceService, impl);
  const creds = ServerCredentials.createSsl(readFileSync(boot.tlsCa), [{ private_key: readFileSync(boot.tlsKey), cert_chain: readFileSync(boot.tlsCert) }], true);
  // The killed agent's port is free once it is gone; allow the kernel a moment.
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await new Promise<number>((resolve, reject) => server.bindAsync(boot.listen, creds, (err, port) => (err ? reject(err) : resolve(port))));
      return server;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(100);
    }
  }
}

t.test('an agent busy with another operation: the control answers ABORTED / 409 CONTROL_ERR_BUSY (injected)', async (t) => {
  const control = await startControl(t);
  const token = control.token('shop');
  const request = restClient(control.restPort);
  const inst = await troveSteps(t, request, 'shop', token).create('cache', { datastore: { type: 'redis', version: '7.0' } });
  const id = String(inst.id);
  const boot = JSON.parse(readFileSync(path.join(control.dataDir, 'instances', id, 'agent.json'), 'utf8')) as BootConfig;

  for (const pid of agentPids(control.dataDir)) process.kill(pid, 'SIGKILL');
  const gone = Date.now() + 30_000;
  while (agentPids(control.dataDir).length > 0 && Date.now() < gone) await sleep(100);
  t.same(agentPids(control.dataDir), [], 'the real agent is gone');

  // Held until the test ends: the agent stays busy whenever it is asked.
  const lock = new OperationLock();
  let release!: () => void;
  const held = lock.run('Restart', () => new Promise<void>((r) => (release = r)));
  const agent = await busyAgent(boot, lock);
  t.teardown(async () => {
    release();
    await held;
    agent.forceShutdown();
  });

  const user = { name: 'app', host: '%', password: 'App-pass-1', databases: [], rules: [] };
  const err = await ccall(control.clients.accounts, 'createUsers', { instanceId: id, users: [user] }, token).then(
    () => null,
    (e: ServiceError) => e,
  );
  t.ok(err, 'the gRPC call is refused');
  t.equal(err?.code, Status.ABORTED, `gRPC ABORTED (${err?.code} ${err?.details})`);
  t.equal(err?.metadata.get('coffer-error-code')[0], 'CONTROL_ERR_BUSY');
  t.match(err?.details, /the instance's agent is busy: cannot createUsers: Restart is running; retry when it ends/);
  t.equal(isRetryable(err), true, 'a caller following lib/retryable.ts asks again');

  const r = await request('POST', `/v1.0/shop/instances/${id}/users`, { token, body: { users: [{ name: 'app', password: 'App-pass-1' }] } });
  t.equal(r.status, 409, r.text);
  const fault = Object.values(r.body ?? {})[0] as { code?: number; message?: string; coffer_error?: string } | undefined;
  t.equal(fault?.coffer_error, 'CONTROL_ERR_BUSY', r.text);
  t.match(fault?.message, /agent is busy: cannot createUsers: Restart is running/);
});
