// The boot config is one contract between whoever launches an agent and the
// agent: the file the control's local driver writes is read by the agent
// into the configuration it runs with, and a file of another version is
// refused, by the real agent, with a message saying so.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../lib/logger.js';
import { ProcessRunner } from '../../lib/process-runner.js';
import { BOOT_CONFIG_VERSION, parseAgentConfigFile } from '../../lib/boot-config.js';
import { LocalDriver } from '../../control/compute/local.js';
import { compileAgentConfig, readConfigFile } from '../../agent/config.js';
import { MANAGERS } from '../../agent/managers/registry.js';
import { AGENT_BIN, agentEnv } from '../support/agent.js';

const ID = '0b6c2d4e-0000-4000-8000-000000000001';

t.test('what the local driver writes, the agent reads into the configuration it runs with', async (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'coffer-boot-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const dataDir = path.join(root, 'data');
  const src = (name: string, text: string): string => {
    const f = path.join(root, name);
    writeFileSync(f, text, { mode: 0o600 });
    return f;
  };
  const log = createLogger({ name: 'test', level: 'silent' });
  const driver = new LocalDriver({ dataDir, runner: new ProcessRunner(log), log, agentBin: AGENT_BIN, usedPorts: () => new Set() });
  const allocation = await driver.allocate(ID, { vcpus: 1, ramMb: 512, volumeGb: 1 }, null);
  const swift = { auth: { url: 'http://127.0.0.1:1/auth/v1.0', user: 'u', key: 'k' }, container: 'backups' };
  await driver.injectConfig(
    ID,
    allocation,
    {
      instanceId: ID,
      datastore: 'postgresql',
      datastoreVersion: '15',
      controlEndpoint: '127.0.0.1:8781',
      heartbeatSeconds: 2.5,
      logLevel: 'debug',
      backupKeyFile: src('backup.key', `${'ab'.repeat(32)}\n`),
      backupDir: path.join(dataDir, 'backups'),
      backupStorage: { defaultStorage: 'swift', storages: { swift } as never },
    },
    {
      cert: src('instance.crt', 'IDENTITY CERT'),
      key: src('instance.key', 'IDENTITY KEY'),
      ca: src('ca.crt', 'CONTROL CA'),
      datastore: { cert: src('datastore.crt', 'SERVING CERT'), key: src('datastore.key', 'SERVING KEY') },
      datastorePeer: { cert: src('datastore-peer.crt', 'PEER CERT'), key: src('datastore-peer.key', 'PEER KEY') },
      datastoreCa: src('datastore-ca.crt', 'INSTANCES CA'),
    },
  );

  const dir = path.join(dataDir, 'instances', ID);
  const file = path.join(dir, 'agent.json');
  t.equal(statSync(file).mode & 0o777, 0o600, 'the boot config is 0600: it may hold storage credentials');
  t.equal(JSON.parse(readFileSync(file, 'utf8')).version, BOOT_CONFIG_VERSION, 'it carries its version');
  const tls = path.join(dir, 'tls');
  t.equal(statSync(tls).mode & 0o777, 0o700, 'the identity files live in a root-only directory');

  const config = compileAgentConfig(readConfigFile(file, true), {}, MANAGERS);
  const [host, port] = allocation.agentAddress.split(':');
  t.same(config, {
    instanceId: ID,
    listenHost: host,
    listenPort: Number(port),
    datastore: 'postgresql',
    datastoreVersion: '15',
    baseDir: LocalDriver.baseDir(dataDir, ID),
    datastorePort: allocation.datastorePort,
    datastoreBind: '127.0.0.1',
    tls: { cert: path.join(tls, 'instance.crt'), key: path.join(tls, 'instance.key'), ca: path.join(tls, 'ca.crt') },
    datastoreTls: { cert: path.join(tls, 'datastore.crt'), key: path.join(tls, 'datastore.key') },
    datastoreTlsPeer: { cert: path.join(tls, 'datastore-peer.crt'), key: path.join(tls, 'datastore-peer.key') },
    datastoreCa: path.join(tls, 'datastore-ca.crt'),
    logLevel: 'debug',
    backup: {
      keyFile: path.join(tls, 'backup.key'),
      defaultStorage: 'swift',
      storages: { swift, local: { root: path.join(dataDir, 'backups') } },
    },
    control: { host: '127.0.0.1', port: 8781, heartbeatMs: 2500 },
    logFile: path.join(dir, 'agent.log'),
    dataVolume: null,
  });
  for (const [name, text] of [['instance.key', 'IDENTITY KEY'], ['datastore.key', 'SERVING KEY'], ['datastore-peer.key', 'PEER KEY'], ['backup.key', `${'ab'.repeat(32)}\n`]]) {
    t.equal(readFileSync(path.join(tls, name!), 'utf8'), text, `${name} copied`);
    t.equal(statSync(path.join(tls, name!)).mode & 0o777, 0o600, `${name} is 0600`);
  }
});

t.test('a hand-written file may leave the version out', async (t) => {
  t.same(parseAgentConfigFile('{"insecure": true}', 'x.json'), { insecure: true });
  t.same(parseAgentConfigFile('{"version": 1, "insecure": true}', 'x.json'), { version: 1, insecure: true });
});

t.test('the agent refuses a config file of another version, saying which it reads', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-boot-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const version of [2, 0, '1']) {
    const file = path.join(dir, 'agent.json');
    writeFileSync(file, JSON.stringify({ version, insecure: true, baseDir: dir }));
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) =>
      execFile(process.execPath, [AGENT_BIN, '--config', file], { env: agentEnv() }, (err, _out, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr: String(stderr) }),
      ),
    );
    t.equal(r.code, 2, `version ${JSON.stringify(version)}: the agent exits 2`);
    t.equal(
      r.stderr.trim(),
      `coffer-agent: config file ${file} has version ${JSON.stringify(version)}; this agent reads version 1 only (was it written by a newer control?)`,
    );
  }
});
