// `make up` / `make down` (scripts/up.sh, scripts/down.sh) with COFFER_UP_*
// overrides pointing at a temp dir and free ports: the printed instructions
// work as printed (the mariadb client with the option file, the coffer CLI
// with the saved token, buf curl against the control's reflection), a second
// run finds everything running, and down leaves no process behind.
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import https from 'node:https';
import { agentEnv, alive, datastorePid, REPO, tempBase, withoutTapLoaders } from '../support/agent.js';
import { agentPids, stopAgentsUnder } from '../support/control.js';
import { freePort } from '../support/ports.js';
import { coffer, json } from './coffer-cli.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 240_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(...withoutTapLoaders([cmd, ...args]), { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs one printed instruction line through bash, as a user pasting it would. */
const shell = (line: string, env: NodeJS.ProcessEnv) => run('bash', ['-c', line], env, 60_000);

t.test('make up through the control plane, then make down', async (t) => {
  // Short: the instances' unix sockets live under it (the control refuses a longer data dir).
  const root = tempBase('coffer-up-');
  const base = path.join(root, 'state');
  const dataDir = path.join(base, 'data');
  const grpc = `127.0.0.1:${await freePort()}`;
  const env: NodeJS.ProcessEnv = {
    ...agentEnv(),
    COFFER_UP_DIR: base,
    COFFER_UP_GRPC: grpc,
    COFFER_UP_CONDUCTOR: `127.0.0.1:${await freePort()}`,
    COFFER_UP_REST: `127.0.0.1:${await freePort()}`,
    COFFER_UP_METRICS: `127.0.0.1:${await freePort()}`,
  };
  delete env.COFFER_TOKEN;
  delete env.COFFER_ENDPOINT;
  delete env.COFFER_CA_FILE;
  delete env.COFFER_PLAINTEXT;
  t.teardown(async () => {
    const pidFile = path.join(base, 'control.pid');
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0;
    await run('bash', ['scripts/down.sh'], env, 120_000);
    if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
  });
  // Safety net (runs after the one above): nothing of this test survives it.
  t.teardown(() => {
    stopAgentsUnder(dataDir);
    rmSync(root, { recursive: true, force: true });
  });

  const up = await run('bash', ['scripts/up.sh'], env);
  t.equal(up.code, 0, `up.sh succeeds\n${up.stdout}\n${up.stderr}`);
  t.match(up.stdout, new RegExp(`starting coffer-control on ${grpc}`), 'it started the control on the overridden port');
  t.match(up.stderr, /\[\s*\d+%\] prepare \(init-datadir\)/, 'the instance was created with the CLI, progress shown');
  t.match(up.stdout, /MariaDB "coffer" is ACTIVE on 127\.0\.0\.1:\d+/, 'it says the instance is ACTIVE');
  t.notMatch(up.stdout + up.stderr, /password = /, 'the password is not printed');

  const controlPid = Number(readFileSync(path.join(base, 'control.pid'), 'utf8').trim());
  t.ok(alive(controlPid), 'coffer-control runs, by its recorded pid');
  for (const f of ['token', 'client.cnf', 'auth-header']) t.equal(statSync(path.join(base, f)).mode & 0o777, 0o600, `${f} is mode 0600`);

  // The printed mariadb line, as printed.
  const connectLine = /^\s*Connect:\s+(mariadb --defaults-extra-file=\S+)$/m.exec(up.stdout)?.[1];
  t.ok(connectLine, 'a mariadb connect line is printed');
  const q = await shell(`${connectLine} --batch --skip-column-names -e 'SELECT CURRENT_USER(), DATABASE()'`, env);
  t.equal(q.code, 0, q.stderr);
  t.equal(q.stdout.trim(), 'coffer@%\tcoffer', 'the printed option file logs in as coffer to database coffer');
  t.notMatch(connectLine!, /password/, 'no password on that command line');

  // The control serves TLS: the printed CA file verifies it.
  const caFile = path.join(dataDir, 'api-ca.crt');
  t.match(up.stdout, new RegExp(`TLS:\\s+the gRPC API \\(https://${grpc}\\) and the REST bridge \\(https://\\S+/v1\\.0\\)\\n\\s+are verified with the CA file ${caFile}$`, 'm'), 'the CA file and the https addresses are printed');
  // The printed CLI lines: endpoint, CA file and COFFER_TOKEN from the saved file.
  const cliBlock = /^\s*coffer CLI:\s+(export COFFER_ENDPOINT=\S+)\n\s+(export COFFER_CA_FILE=\S+)\n\s+(export COFFER_TOKEN=.*)\n\s+(\S+ instance list)$/m.exec(up.stdout);
  t.ok(cliBlock, 'the coffer CLI instructions are printed');
  const list = await shell(`${cliBlock![1]}; ${cliBlock![2]}; ${cliBlock![3]}; ${cliBlock![4]} --json`, env);
  t.equal(list.code, 0, list.stderr);
  const instances = json<Array<{ name: string; status: string; id: string; port: number }>>(list);
  t.same(instances.map((i) => [i.name, i.status]), [['coffer', 'ACTIVE']], 'the CLI with the saved token lists the instance');
  const inst = instances[0]!;

  // The printed buf curl lines: reflection, and a call with the token header file.
  const methods = /^\s+(\S+buf curl --protocol grpc --cacert \S+ --list-methods https:\/\/\S+)$/m.exec(up.stdout)?.[1];
  const listed = await shell(methods!, env);
  t.equal(listed.code, 0, listed.stderr);
  t.match(listed.stdout, /^coffer\.control\.v1\.InstanceService\/CreateInstance$/m, 'buf curl lists the control\'s methods through reflection');
  const callLines = /^\s+(echo '\{\}' \| \S+buf curl .*\\)\n\s+(\S+ListInstances)$/m.exec(up.stdout);
  t.ok(callLines, 'a buf curl call is printed');
  const called = await shell(`${callLines![1]}\n${callLines![2]}`, env);
  t.equal(called.code, 0, called.stderr);
  t.match(called.stdout, new RegExp(`"id": "${inst.id}"`), 'buf curl with the header file reaches ListInstances');

  // The printed dashboard address and OpenStack CLI lines (docs/dashboard.md).
  const dashboard = /^\s*Dashboard:\s+(https:\/\/\S+\/ui\/)$/m.exec(up.stdout)?.[1];
  t.ok(dashboard, 'the dashboard address is printed');
  const page = await httpsGet(dashboard!, readFileSync(caFile));
  t.equal(page.status, 200, 'the dashboard answers at the printed address, verified with the CA file');
  t.match(page.body, /<div id="app">/, 'with the page');
  const osLines = /^\s+(export OS_AUTH_TYPE=\S+)\n\s+(export OS_ENDPOINT=\S+)\n\s+(export OS_CACERT=\S+)\n\s+(export OS_TOKEN=.*)\n\s+(openstack database instance list)$/m.exec(up.stdout);
  t.ok(osLines, 'the OS_* variables are printed');
  const os = await shell(`${osLines![1]}; ${osLines![2]}; ${osLines![3]}; ${osLines![4]}; ${osLines![5]} -f json`, env);
  t.equal(os.code, 0, os.stderr);
  t.match(os.stdout, /"Name": "coffer"/, 'the OpenStack CLI with the printed variables lists the instance');

  // Idempotent: a second run finds the control and the instance.
  const cnfBefore = readFileSync(path.join(base, 'client.cnf'), 'utf8');
  const again = await run('bash', ['scripts/up.sh'], env);
  t.equal(again.code, 0, again.stderr);
  t.match(again.stdout, new RegExp(`coffer-control is already running \\(pid ${controlPid},`), 'the second run finds the running control');
  t.match(again.stdout, /instance "coffer" is already ACTIVE/, 'and the instance');
  t.equal(readFileSync(path.join(base, 'client.cnf'), 'utf8'), cnfBefore, 'the option file (and password) are unchanged');
  t.same(json<unknown[]>(await coffer(['instance', 'list', '--json'], { env: { COFFER_ENDPOINT: grpc, COFFER_CA_FILE: caFile, COFFER_TOKEN_FILE: path.join(base, 'token') } })).length, 1, 'still one instance');

  // make down: the control, the agent and MariaDB, by their recorded pids.
  const agents = agentPids(dataDir);
  t.equal(agents.length, 1, 'one agent runs');
  const dsPid = datastorePid(path.join(dataDir, 'instances', inst.id, 'base'));
  t.ok(dsPid > 0 && alive(dsPid), 'MariaDB runs');
  const down = await run('bash', ['scripts/down.sh'], env, 120_000);
  t.equal(down.code, 0, down.stderr);
  t.match(down.stdout, /stopped coffer-control/);
  t.match(down.stdout, /stopped 1 instance agent/);
  for (const [what, pid] of [['coffer-control', controlPid], ['the agent', agents[0]!], ['MariaDB', dsPid]] as const) {
    t.notOk(alive(pid), `${what} (pid ${pid}) is gone`);
  }
  t.same(agentPids(dataDir), [], 'no agent of this data dir is left');
  const gone = await new Promise<number>((resolve) =>
    execFile('mariadb', [`--defaults-extra-file=${path.join(base, 'client.cnf')}`, '-e', 'SELECT 1'], (err) => resolve(err ? 1 : 0)),
  );
  t.equal(gone, 1, 'MariaDB no longer accepts connections');
  t.ok(existsSync(path.join(dataDir, 'instances', inst.id)), 'the data stays for the next make up');

  const downAgain = await run('bash', ['scripts/down.sh'], env);
  t.equal(downAgain.code, 0, 'a second make down is harmless');
  t.match(downAgain.stdout, /coffer-control is not running/);
});

/** GET over https, verified against `ca` (fetch takes no CA). */
function httpsGet(url: string, ca: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https.get(url, { ca }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}
