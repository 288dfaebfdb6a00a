// Each server's reflection lists exactly the services it serves, as
// `buf curl --list-services` shows them: the agent its agent services, the
// control's public API port the coffer.control.v1 public services, the
// conductor port the conductor; each with health and reflection. A service
// listed but not served answers UNIMPLEMENTED to whoever trusts the list.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO, startAgent, withoutTapLoaders } from '../support/agent.js';
import { startControl } from '../support/control.js';

const run = promisify(execFile);
const BUF = path.join(REPO, 'node_modules', '.bin', 'buf');

const COMMON = ['grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'];

async function listServices(url: string, tls: string[] = []): Promise<string[]> {
  const args = ['curl', '--protocol', 'grpc', ...(tls.length ? tls : ['--http2-prior-knowledge']), '--list-services', url];
  const { stdout } = await run(...withoutTapLoaders([BUF, ...args]), { timeout: 60_000 });
  return stdout.split('\n').map((l) => l.trim()).filter(Boolean).sort();
}

t.test('the agent lists its agent services', async (t) => {
  const agent = await startAgent(t);
  const listed = await listServices(`http://${agent.address}`);
  const agentServices = ['Account', 'Archive', 'Backup', 'Cluster', 'Configuration', 'Console', 'Lifecycle', 'Log', 'Replication'].map((s) => `coffer.agent.v1.${s}Service`);
  t.same(listed, [...agentServices, ...COMMON].sort(), 'the nine coffer.agent.v1 services, health and reflection');
});

t.test('the control lists its public API on the API port and the conductor on the conductor port', async (t) => {
  const control = await startControl(t);
  const api = await listServices(`http://${control.address}`);
  const publicServices = ['Account', 'Archiving', 'Backup', 'Catalog', 'Cluster', 'Configuration', 'Console', 'Instance', 'Log', 'Task'].map((s) => `coffer.control.v1.${s}Service`);
  t.same(api, [...publicServices, ...COMMON].sort(), 'the API port: the public coffer.control.v1 services, health and reflection (no agent service, no conductor)');

  // The conductor takes only clients with a certificate from the instances
  // CA (the agents'): one is made here as the CA would issue it.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-refl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ca = path.join(control.dataDir, 'ca');
  const key = path.join(dir, 'client.key');
  const csr = path.join(dir, 'client.csr');
  const cert = path.join(dir, 'client.pem');
  const ext = path.join(dir, 'client.ext');
  writeFileSync(ext, 'extendedKeyUsage=clientAuth\n');
  await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=reflection-test']);
  await run('openssl', ['x509', '-req', '-in', csr, '-CA', path.join(ca, 'instances-ca.crt'), '-CAkey', path.join(ca, 'instances-ca.key'), '-CAcreateserial', '-out', cert, '-days', '1', '-extfile', ext]);
  const conductor = await listServices(`https://127.0.0.1:${control.conductorPort}`, ['--cacert', path.join(ca, 'control-ca.crt'), '--cert', cert, '--key', key]);
  t.same(conductor, ['coffer.control.v1.ConductorService', ...COMMON].sort(), 'the conductor port: the conductor, health and reflection');
});
