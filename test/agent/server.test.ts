// How callers reach the agent: mutual TLS, loopback-only plaintext,
// reflection for buf curl, health, and UNIMPLEMENTED for what is not built.
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { credentials, status as Status } from '@grpc/grpc-js';
import { startAgent, call, clientsFor, collect, agentEnv, AGENT_BIN, REPO, tempBase, withoutTapLoaders } from '../support/agent.js';
import { makePki } from '../support/certs.js';

const BUF = path.join(REPO, 'node_modules', '.bin', 'buf');

function buf(args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = execFile(...withoutTapLoaders([BUF, ...args]), { env: agentEnv() }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: String(stdout), stderr: String(stderr) }),
    );
    if (stdin !== undefined) p.stdin!.end(stdin);
  });
}

function runAgent(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(...withoutTapLoaders([process.execPath, AGENT_BIN, ...args]), { env: agentEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('exit', (code) => resolve({ code, stderr }));
  });
}

t.test('buf curl lists every method through reflection and calls one with JSON', async (t) => {
  const agent = await startAgent(t);
  const url = `http://${agent.address}`;
  const list = await buf(['curl', '--protocol', 'grpc', '--http2-prior-knowledge', '--list-methods', url]);
  t.equal(list.code, 0, list.stderr);
  for (const m of [
    'coffer.agent.v1.LifecycleService/Prepare',
    'coffer.agent.v1.AccountService/CreateUsers',
    'coffer.agent.v1.ConfigurationService/UpdateOverrides',
    'coffer.agent.v1.BackupService/CreateBackup',
    'coffer.agent.v1.ReplicationService/AttachReplica',
    'coffer.agent.v1.ClusterService/InstallCluster',
    'coffer.agent.v1.LogService/TailLog',
    'coffer.agent.v1.ConsoleService/Console',
    'grpc.health.v1.Health/Check',
  ]) {
    t.ok(list.stdout.split('\n').includes(m), `lists ${m}`);
  }
  const status = await buf(['curl', '--protocol', 'grpc', '--http2-prior-knowledge', '-d', '{}', `${url}/coffer.agent.v1.LifecycleService/GetStatus`]);
  t.equal(status.code, 0, status.stderr);
  t.equal(JSON.parse(status.stdout).state, 'DATASTORE_STATE_NEW');
  // Input through stdin, the way secrets are passed.
  const bad = await buf(['curl', '--protocol', 'grpc', '--http2-prior-knowledge', '-d', '@-', `${url}/coffer.agent.v1.LifecycleService/CancelOperation`], '{"operationId":"nope"}');
  t.not(bad.code, 0);
  t.match(bad.stderr + bad.stdout, /not_found|NotFound|no running operation/i, 'errors come back with their status and message');
  const health = await buf(['curl', '--protocol', 'grpc', '--http2-prior-knowledge', '-d', '{}', `${url}/grpc.health.v1.Health/Check`]);
  t.same(JSON.parse(health.stdout), { status: 'SERVING' });
});

t.test('a capability the datastore has not answers UNIMPLEMENTED naming it (Redis has no archive)', async (t) => {
  const agent = await startAgent(t, { datastore: 'redis' });
  const { ArchiveServiceClient } = await import('../../proto/gen/coffer/agent/v1/archive.js');
  const client = new ArchiveServiceClient(agent.address, credentials.createInsecure());
  t.teardown(() => client.close());
  const err = await call(client, 'getArchiveStatus', {}).catch((e: { code: number; details: string }) => e);
  t.equal((err as { code: number }).code, Status.UNIMPLEMENTED);
  t.match((err as { details: string }).details, /archive/);
});

t.test('mutual TLS: a client without a certificate signed by the CA is rejected', async (t) => {
  const pki = makePki();
  const server = pki.issue('agent', { server: true });
  const client = pki.issue('control');
  const other = makePki('coffer-pki-other-');
  const stranger = other.issue('stranger');
  const agent = await startAgent(t, { insecure: false, extraArgs: ['--tls-cert', server.cert, '--tls-key', server.key, '--tls-ca', pki.ca] });
  const ca = readFileSync(pki.ca);
  const good = clientsFor(agent.address, credentials.createSsl(ca, readFileSync(client.key), readFileSync(client.cert)));
  t.teardown(() => good.close());
  const ping = await call<object, { instanceId: string }>(good.lifecycle, 'ping', {});
  t.equal(ping.instanceId, 'standalone', 'a client with a certificate from the CA gets through');

  const noCert = clientsFor(agent.address, credentials.createSsl(ca));
  t.teardown(() => noCert.close());
  await t.rejects(call(noCert.lifecycle, 'ping', {}), { code: Status.UNAVAILABLE }, 'no client certificate: rejected');
  const wrongCa = clientsFor(agent.address, credentials.createSsl(ca, readFileSync(stranger.key), readFileSync(stranger.cert)));
  t.teardown(() => wrongCa.close());
  await t.rejects(call(wrongCa.lifecycle, 'ping', {}), { code: Status.UNAVAILABLE }, 'a certificate from another CA: rejected');
  const plain = clientsFor(agent.address);
  t.teardown(() => plain.close());
  await t.rejects(call(plain.lifecycle, 'ping', {}), { code: Status.UNAVAILABLE }, 'plaintext: rejected');
  await t.rejects(collect(noCert.lifecycle.prepare({ datastoreVersion: '', rootPassword: '', databases: [], users: [], overrides: {}, restore: undefined, replicaOf: undefined })), { code: Status.UNAVAILABLE }, 'nothing runs for a rejected client');
});

t.test('bad start-up configuration: clear errors, exit code 2, nothing started', async (t) => {
  const base = path.join(tempBase(), 'base');
  const cases: Array<[string[], RegExp]> = [
    [['--insecure', '--listen', '0.0.0.0:0'], /only on a loopback address/],
    [['--listen', '127.0.0.1:0'], /no transport security chosen/],
    [['--insecure', '--listen', 'nonsense'], /HOST:PORT/],
    [['--insecure', '--datastore-version', '9.9'], /not supported for mariadb/],
    [['--insecure', '--tls-cert', '/nope.pem'], /all three/],
    [['--config', '/nonexistent/agent.json', '--insecure'], /does not exist/],
    [['--insecure', '--datastore-port', '70000'], /1-65535/],
    [['--insecure', '--datastore-port', 'abc'], /--datastore-port must be an integer/],
    [['--insecure', '--lisen', '127.0.0.1:0'], /Unknown option '--lisen'/],
    [['--insecure', '--listen'], /Option '--listen' argument is ambiguous\. Did you forget to specify the option argument for '--listen'\?; see/],
    [['--insecure', '--datastore', 'oracle'], /"oracle" is not known; choose one of: mariadb, mysql, postgresql, redis/],
  ];
  for (const [args, message] of cases) {
    const r = await runAgent([...args, '--base-dir', base]);
    t.equal(r.code, 2, args.join(' '));
    t.match(r.stderr, message, `says why: ${args.join(' ')}`);
  }
  const help = await new Promise<string>((resolve) =>
    execFile(...withoutTapLoaders([process.execPath, AGENT_BIN, '--help']), { env: agentEnv() }, (_e, out) => resolve(String(out))),
  );
  t.match(help, /--base-dir/);
  t.match(help, /--tls-ca/);
  t.match(help, /--datastore <name> .*choices: "mariadb", "mysql", "postgresql", "redis"/);
});
