// End to end with real virtual machines (issue 14): the MariaDB image
// built (or reused from the cache) by images/build.ts, the real control
// with --compute qemu, and what a user does through the REST API and the
// real OpenStack CLI: create an instance and wait for ACTIVE, connect with
// the mariadb client through the forwarded port, create a database and a
// user, take a backup, resize the volume and see the filesystem grow inside
// (the agent's GetStatus), delete and find no VM process or disk left.
// Then a config drive carrying another instance's certificate: the agent
// refuses to start, saying so on the console.
//
// TCG boots are slow (no usable KVM on the CI machines): this file is not
// in `make test` but in `make test-vm`, which .ci/run also runs. Times
// (power-on to agent ready, to ACTIVE) are printed as comments and kept in
// docs/performance.md.
import t from 'tap';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createLogger } from '../../../lib/logger.js';
import { ProcessRunner } from '../../../lib/process-runner.js';
import { AgentConnector, agentCall } from '../../../control/agent-client.js';
import { QemuDriver } from '../../../control/compute/qemu.js';
import { LOCAL_ONLY } from '../../../control/backup-storage.js';
import type { GetStatusResponse } from '../../../proto/gen/coffer/agent/v1/lifecycle.js';
import { alive, tempBase, waitFor } from '../../support/agent.js';
import { makePki } from '../../support/certs.js';
import { vmImage } from '../../support/image.js';
import { startControl } from '../../support/control.js';
import { mariadb } from '../../support/mariadb-client.js';
import { openstack } from '../../support/openstack/cli.js';
import { restClient, waitBackup, waitInstance } from '../../support/openstack/rest.js';

type Row = Record<string, unknown>;
const GIB = 1024 ** 3;
/** What a user waits for at most: a TCG boot on a loaded 2-core machine takes minutes. */
const BOOT_WAIT_MS = 20 * 60_000;

t.setTimeout(60 * 60_000);

t.test('a MariaDB instance that is a real VM, through the REST API and the OpenStack CLI', async (t) => {
  const buildStarted = Date.now();
  const image = await vmImage(t, 'mariadb');
  t.comment(`image ${image} ready in ${((Date.now() - buildStarted) / 1000).toFixed(1)} s`);

  const control = await startControl(t, {
    heartbeatSeconds: 5,
    taskDeadlineSeconds: 3600,
    extraArgs: ['--compute', 'qemu', '--image', image, '--boot-timeout-seconds', String(BOOT_WAIT_MS / 1000)],
  });
  const token = control.token('shop');
  const os = openstack(control.restPort, 'shop', token);
  const request = restClient(control.restPort);
  const settled = (i: Row | null) => i?.status === 'ACTIVE' || i?.status === 'ERROR';
  const ca = path.join(control.dataDir, 'ca');
  const connector = new AgentConnector({ ca: path.join(ca, 'instances-ca.crt'), cert: path.join(ca, 'control.crt'), key: path.join(ca, 'control.key') });

  const requested = Date.now();
  const created = await os.json<Row>('database', 'instance', 'create', 'vm1', '--flavor', 'small', '--size', '1', '--datastore', 'mariadb',
    '--databases', 'shop', '--users', 'app:App-pass-1');
  const id = String(created.id);

  // The driver logs the power-on with the agent's forwarded address.
  const poweredOn = await waitFor('the VM to be powered on', async () => {
    const line = control.current!.logs.flatMap((l) => l.split('\n')).find((l) => l.includes('"VM powered on"') && l.includes(id));
    return line ? (JSON.parse(line) as { time: number; agentAddress: string; pid: number }) : undefined;
  }, 120_000);
  const vmDir = path.join(control.dataDir, 'vms', id);
  const agent = connector.connect(id, poweredOn.agentAddress);
  t.teardown(() => agent.close());
  // What a user waits for: the agent answering, or the instance failing
  // (then its fault holds the console's tail).
  const ready = await waitFor('the agent in the VM to answer Ping, or the instance to fail', async () => {
    if (await agentCall(agent.lifecycle, 'ping', {}, 5000).then(() => true, () => false)) return 'ready';
    const r = await request('GET', `/v1.0/shop/instances/${id}`, { token });
    return (r.body?.instance as Row | undefined)?.status === 'ERROR' ? 'failed' : undefined;
  }, BOOT_WAIT_MS).catch((err: Error) => {
    throw new Error(`${err.message}; console:\n${tail(path.join(vmDir, 'console.log'))}`);
  });
  const agentReadyMs = Date.now() - poweredOn.time;
  if (ready === 'failed') t.comment(`the instance failed ${(agentReadyMs / 1000).toFixed(1)} s after power-on`);
  const inst = await waitInstance(request, 'shop', token, id, settled, BOOT_WAIT_MS);
  const activeMs = Date.now() - poweredOn.time;
  t.equal(inst!.status, 'ACTIVE', `the VM instance is ACTIVE${inst!.fault ? `: ${JSON.stringify(inst!.fault)}` : ''}`);
  const load = readFileSync('/proc/loadavg', 'utf8').trim();
  if (ready === 'ready') t.comment(`boot: power-on to agent ready ${(agentReadyMs / 1000).toFixed(1)} s (request to power-on ${((poweredOn.time - requested) / 1000).toFixed(1)} s); load ${load}`);
  if (inst!.status === 'ACTIVE') t.comment(`boot: power-on to ACTIVE ${(activeMs / 1000).toFixed(1)} s; load ${load}`);
  if (inst!.status !== 'ACTIVE') return;

  const port = Number(inst!.port);
  const app = await mariadb(port, 'app', 'App-pass-1', 'SELECT DATABASE(), @@hostname', 'shop');
  t.equal(app.code, 0, `the mariadb client reaches the VM's datastore through the forwarded port ${app.stderr}`);
  t.match(app.stdout, /^shop\t/, 'connected to the database Prepare made');

  await os.ok('database', 'db', 'create', id, 'orders');
  await os.ok('database', 'user', 'create', id, 'clerk', 'Clerk-pass-1', '--databases', 'orders');
  const dbs = await os.json<Row[]>('database', 'db', 'list', id);
  t.ok(dbs.some((d) => d.Name === 'orders'), 'openstack database db list shows the new database');
  const users = await os.json<Row[]>('database', 'user', 'list', id);
  t.ok(users.some((u) => u.Name === 'clerk'), 'openstack database user list shows the new user');
  const clerk = await mariadb(port, 'clerk', 'Clerk-pass-1', 'CREATE TABLE o (v INT); INSERT INTO o VALUES (42); SELECT v FROM o', 'orders');
  t.equal(clerk.code, 0, clerk.stderr);
  t.equal(clerk.stdout.trim(), '42', 'the new user writes and reads in the new database');

  const backup = await os.json<Row>('database', 'backup', 'create', 'b1', '--instance', id);
  const done = await waitBackup(request, 'shop', token, String(backup.id), BOOT_WAIT_MS);
  t.equal(done.status, 'COMPLETED', `a backup of the VM's datastore completes${done.fault ? `: ${JSON.stringify(done.fault)}` : ''}`);
  await waitInstance(request, 'shop', token, id, settled, BOOT_WAIT_MS);

  const volume = async () => (await agentCall<GetStatusResponse>(agent.lifecycle, 'getStatus', {}, 30_000)).volume!;
  const before = await volume();
  t.ok(Number(before.totalBytes) < 1.1 * GIB, `the data volume's filesystem holds 1 GB (${before.totalBytes} bytes at ${before.path})`);
  await os.ok('database', 'instance', 'resize', 'volume', id, '2');
  const resized = await waitInstance(request, 'shop', token, id, (i) => settled(i) && Number((i?.volume as Row | undefined)?.size) === 2, BOOT_WAIT_MS);
  t.equal(resized!.status, 'ACTIVE', `resize volume ends ACTIVE${resized!.fault ? `: ${JSON.stringify(resized!.fault)}` : ''}`);
  const after = await volume();
  t.ok(Number(after.totalBytes) > 1.8 * GIB, `the filesystem inside grew online to ${after.totalBytes} bytes`);
  t.equal((await mariadb(port, 'clerk', 'Clerk-pass-1', 'SELECT v FROM o', 'orders')).stdout.trim(), '42', 'the data is still there');

  const pid = Number(readFileSync(path.join(vmDir, 'qemu.pid'), 'utf8'));
  t.ok(alive(pid), 'QEMU runs');
  await os.ok('database', 'instance', 'delete', id);
  await waitInstance(request, 'shop', token, id, (i) => i === null, 300_000);
  t.notOk(alive(pid), 'deleted: no VM process left');
  t.notOk(existsSync(vmDir), 'deleted: no overlay, data disk, config drive or console left');
});

t.test("a config drive with another instance's certificate: the agent refuses to start, and says so on the console", async (t) => {
  const image = await vmImage(t, 'mariadb');
  // The VM of one instance is given a certificate issued for another (a
  // drive made for another VM). The driver is used directly: the control's
  // own create never builds such a drive.
  const root = tempBase('coffer-vm-');
  const pki = makePki();
  const id = 'a0c0ffee-0000-4000-8000-0000000000f1';
  const other = 'b0c0ffee-0000-4000-8000-0000000000f2';
  const log = createLogger({ name: 'test', level: 'silent' });
  const driver = new QemuDriver({ dataDir: root, runner: new ProcessRunner(log), log, image, conductorPort: () => 8781, usedPorts: () => new Set(), bootTimeoutMs: BOOT_WAIT_MS });
  const cert = pki.issue(other, { server: true, dns: [other] });
  const ds = pki.issue(`${other}-ds`, { server: true });
  const certs = { cert: cert.cert, key: cert.key, ca: pki.ca, datastore: ds };
  const key = path.join(root, 'backup.key');
  writeFileSync(key, 'b'.repeat(64), { mode: 0o600 });
  const a = await driver.allocate(id, { vcpus: 1, ramMb: 1024, volumeGb: 1 }, null);
  await driver.injectConfig(
    id,
    a,
    { instanceId: id, datastore: 'mariadb', datastoreVersion: '10.11', controlEndpoint: '', heartbeatSeconds: 5, logLevel: 'info', backupKeyFile: key, backupDir: '/x', backupStorage: LOCAL_ONLY },
    certs,
  );
  t.teardown(async () => {
    await driver.delete(id, a);
    rmSync(root, { recursive: true, force: true });
    rmSync(pki.dir, { recursive: true, force: true });
  });
  const started = Date.now();
  await driver.create(id, a);
  const line = await waitFor('the console to say the agent will not start', async () => driver.bootFailure(id), BOOT_WAIT_MS).catch((err: Error) => {
    throw new Error(`${err.message}; console:\n${driver.consoleTail(id)}`);
  });
  t.comment(`refused ${((Date.now() - started) / 1000).toFixed(1)} s after power-on`);
  t.match(line, new RegExp(`coffer-agent: .*${other}.*not for this instance "${id}"`), `the console names both instances: ${line}`);
  t.match(driver.consoleTail(id), /coffer-agent: /, "the tail the control puts in an instance's fault holds the line");
});

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-40).join('\n');
  } catch {
    return '(no console log)';
  }
}

