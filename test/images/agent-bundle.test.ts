// What an image carries of the repository: the agent staged by
// images/agent-bundle.ts runs on its own (its node_modules hold everything
// it loads), carries no control or CLI code, and none of the control's
// packages (better-sqlite3, a native module, cannot be built in an image).
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { packageOf, stageAgent } from '../../images/agent-bundle.js';
import { repoRoot } from '../../lib/repo-root.js';
import { AGENT_NODE_FLAGS } from '../../lib/agent-node-flags.js';
import { agentEnv, tempBase } from '../support/agent.js';

// Outside the repository, so nothing resolves from the repository's node_modules.
const dest = path.join(mkdtempSync(path.join(os.tmpdir(), 'coffer-bundle-')), 'opt-coffer-agent');
t.teardown(() => rmSync(path.dirname(dest), { recursive: true, force: true }));
const packages = stageAgent(repoRoot(), dest);

t.test('package names from specifiers', async (t) => {
  t.equal(packageOf('@grpc/grpc-js/build/src/x.js'), '@grpc/grpc-js');
  t.equal(packageOf('protobufjs/ext/descriptor/index.js'), 'protobufjs');
  t.equal(packageOf('node:fs'), null);
  t.equal(packageOf('../lib/x.js'), null);
});

t.test('the agent, its layers and dependencies, and nothing of the control', async (t) => {
  t.same(readdirSync(path.join(dest, 'dist')).sort(), ['agent', 'lib', 'proto', 'strategies']);
  t.notOk(existsSync(path.join(dest, 'dist/control')), 'no control code');
  for (const p of ['@grpc/grpc-js', 'pino', 'mysql2', 'pg', 'ioredis', '@aws-sdk/client-s3']) t.ok(packages.includes(`node_modules/${p}`), `${p} is there`);
  for (const p of ['better-sqlite3', 'fastify', 'tap', 'typescript', 'cli-progress']) t.notOk(existsSync(path.join(dest, 'node_modules', p)), `${p} is not`);
  t.ok(existsSync(path.join(dest, 'strategies/configuration/rules/mariadb-10.11.json')), 'the rule tables');
  t.ok(existsSync(path.join(dest, 'proto/gen/descriptors.binpb')), 'the descriptor set reflection serves');
});

t.test('the staged agent starts from its own directory and stops on SIGTERM', async (t) => {
  const base = tempBase('coffer-bundle-base-');
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const child = spawn(process.execPath, [...AGENT_NODE_FLAGS, path.join(dest, 'bin/coffer-agent'), '--insecure', '--listen', '127.0.0.1:0', '--datastore', 'mariadb', '--base-dir', base], {
    cwd: dest, env: { ...agentEnv(), NODE_PATH: '' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const listening = await new Promise<boolean>((resolve) => {
    createInterface({ input: child.stdout }).on('line', (l) => l.includes('"msg":"listening"') && resolve(true));
    void exited.then(() => resolve(false));
  });
  t.ok(listening, `listening${err ? `: ${err}` : ''}`);
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'a clean stop');
});
