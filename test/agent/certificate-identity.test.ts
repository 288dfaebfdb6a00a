// An agent that reports to a control refuses to start with a certificate
// the control's CA issued for another instance: one clear line, exit 2 (the
// status its systemd unit does not restart on). Real certificates from the
// control's CertificateAuthority; the real agent binary.
import t from 'tap';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CertificateAuthority } from '../../control/ca/authority.js';
import { OpenSsl } from '../../control/ca/openssl.js';
import { openDatabase } from '../../control/db/database.js';
import { createLogger } from '../../lib/logger.js';
import { ProcessRunner } from '../../lib/process-runner.js';
import { certificateIdentityProblem } from '../../agent/certificate-identity.js';
import { AGENT_BIN, agentEnv, startAgent } from '../support/agent.js';
import { AGENT_NODE_FLAGS } from '../../lib/agent-node-flags.js';
import { freePort } from '../../lib/free-port.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-cert-id-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const log = createLogger({ level: 'silent' });
const db = openDatabase(path.join(dir, 'control'));
t.teardown(() => db.close());
const ca = await CertificateAuthority.open(path.join(dir, 'control'), new OpenSsl(new ProcessRunner(log)), db, log);
const mine = randomUUID();
const other = randomUUID();
const mineFiles = await ca.issueInstance(mine, path.join(dir, 'mine'));
const otherFiles = await ca.issueInstance(other, path.join(dir, 'other'));

function configFor(instanceId: string, files: typeof mineFiles, conductorPort: number): string {
  const file = path.join(dir, `agent-${instanceId}-${path.basename(path.dirname(files.cert))}.json`);
  writeFileSync(file, JSON.stringify({
    version: 1, instanceId, controlEndpoint: `127.0.0.1:${conductorPort}`, heartbeatSeconds: 30,
    tlsCert: files.cert, tlsKey: files.key, tlsCa: files.ca,
  }));
  return file;
}

t.test('the names the CA gives an instance are what the agent checks', async (t) => {
  t.equal(certificateIdentityProblem(mineFiles.cert, mine), null, 'its own identity certificate is accepted');
  t.match(certificateIdentityProblem(otherFiles.cert, mine), `is for instance "${other}"`, 'another instance\'s is not');
  t.match(certificateIdentityProblem(mineFiles.datastorePeer.cert, mine), `is for instance "${mine}.datastore-peer"`, 'nor its datastore\'s peer certificate');
});

t.test('with another instance\'s certificate the agent does not start, and says why in one line', async (t) => {
  const conductorPort = await freePort();
  const child = spawn(process.execPath, [...AGENT_NODE_FLAGS, AGENT_BIN, '--config', configFor(mine, otherFiles, conductorPort), '--listen', '127.0.0.1:0', '--base-dir', path.join(dir, 'base-refused')], { env: agentEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (out += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  t.equal(code, 2, 'exit status 2: a refused configuration (coffer-agent.service does not restart on it)');
  const lines = out.trim().split('\n');
  t.equal(lines.length, 1, 'one line');
  t.match(lines[0], new RegExp(`^coffer-agent: the TLS certificate ${mineFiles.cert.replace('mine', 'other').replace(/[.]/g, '\\.')} is for instance "${other}" .*not for this instance "${mine}": refusing to start`));
});

t.test('with its own certificate the same config starts the agent', async (t) => {
  const conductorPort = await freePort();
  const agent = await startAgent(t, { insecure: false, extraArgs: ['--config', configFor(mine, mineFiles, conductorPort)] });
  t.ok(agent.port > 0, 'listening');
});
