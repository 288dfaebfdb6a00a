// The qemu driver's VM lifecycle with a real QEMU, on a blank base image
// (the firmware finds nothing to boot, which is all this test needs; the
// booted image is test/control/compute/qemu-vm.test.ts's): one VM walked
// through create, a second create that starts nothing, a new driver (a
// restarted control) adopting it by pid file and QMP socket, the data disk
// grown live through QMP, a shrink refused, a console line that says the
// agent gave up, and delete leaving no process and no file.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../../lib/logger.js';
import { ProcessRunner } from '../../../lib/process-runner.js';
import { QemuDriver } from '../../../control/compute/qemu.js';
import { qmp } from '../../../control/compute/qmp.js';
import { checkImage } from '../../../control/compute/base-image.js';
import { LOCAL_ONLY } from '../../../control/backup-storage.js';
import { alive, waitFor } from '../../support/agent.js';
import { makePki } from '../../support/certs.js';

const ID = '5d1e0c2b-0000-4000-8000-0000000000a1';
const GIB = 1024 ** 3;

t.test('a VM: created once, adopted, grown live, deleted without a trace', async (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'coffer-qemu-'));
  const pki = makePki();
  const dataDir = path.join(root, 'data');
  const log = createLogger({ name: 'test', level: 'silent' });
  const runner = new ProcessRunner(log);
  const image = path.join(root, 'blank.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', image, '1G']);
  await checkImage(runner, image);
  await t.rejects(checkImage(runner, path.join(root, 'none.qcow2')), /--image .*none.qcow2 cannot be read \(ENOENT\); build one with make image/);
  const raw = path.join(root, 'raw.img');
  writeFileSync(raw, Buffer.alloc(1024 * 1024));
  await t.rejects(checkImage(runner, raw), /is raw, not qcow2/);

  const driverFor = () =>
    new QemuDriver({ dataDir, runner, log, image, conductorPort: () => 8781, usedPorts: () => new Set(), bootTimeoutMs: 60_000, powerdownGraceMs: 2000, kvm: false });
  const driver = driverFor();
  let pid = 0;
  t.teardown(() => {
    if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(root, { recursive: true, force: true });
    rmSync(pki.dir, { recursive: true, force: true });
  });

  await t.rejects(driver.allocate(ID, { vcpus: 1, ramMb: 256, volumeGb: 1, clusterPorts: ['gmcast'] }, null), /does not run cluster members yet/);
  const a = await driver.allocate(ID, { vcpus: 1, ramMb: 256, volumeGb: 1 }, null);
  t.same(await driver.allocate(ID, { vcpus: 1, ramMb: 256, volumeGb: 1 }, a), a, 'allocated again: the same answer');
  t.match(a.agentAddress, /^127\.0\.0\.1:\d+$/, "the agent's port is on the host's loopback");
  t.equal(await driver.status(ID, a), 'stopped', 'allocated, not running');

  const cert = pki.issue(ID, { server: true });
  const ds = pki.issue(`${ID}-ds`, { server: true });
  const key = path.join(root, 'backup.key');
  writeFileSync(key, 'a'.repeat(64), { mode: 0o600 });
  await driver.injectConfig(
    ID,
    a,
    { instanceId: ID, datastore: 'mariadb', datastoreVersion: '10.11', controlEndpoint: '127.0.0.1:8781', heartbeatSeconds: 10, logLevel: 'info', backupKeyFile: key, backupDir: '/x', backupStorage: LOCAL_ONLY },
    { cert: cert.cert, key: cert.key, ca: pki.ca, datastore: ds },
  );
  const f = driver.files(ID);
  t.equal(statSync(f.configDrive).mode & 0o777, 0o600, 'the config drive is 0600');
  t.equal(statSync(f.dir).mode & 0o777, 0o700, "the instance's directory is 0700");

  await driver.create(ID, a);
  pid = Number(readFileSync(f.pidFile, 'utf8'));
  t.ok(alive(pid), 'QEMU runs, daemonized');
  t.equal(await driver.status(ID, a), 'running');
  t.equal(execFileSync('qemu-img', ['info', '--output=json', '-U', f.rootDisk], { encoding: 'utf8' }).includes('"backing-filename"'), true, 'the root disk is an overlay');
  t.equal(statSync(f.dataDisk).size, GIB, "the data disk has the volume's size");
  t.same(await qmp(f.qmpSocket, 'query-status'), { status: 'running', singlestep: false, running: true }, 'QMP answers on the unix socket');

  await driver.create(ID, a);
  t.equal(Number(readFileSync(f.pidFile, 'utf8')), pid, 'created again: the same QEMU, none started beside it');
  const restarted = driverFor();
  await restarted.adopt([{ id: ID, allocation: a, shouldRun: true }]);
  t.equal(await restarted.status(ID, a), 'running', 'a restarted control finds the VM by its pid file');
  t.equal(Number(readFileSync(f.pidFile, 'utf8')), pid, 'and does not boot it twice');

  await restarted.resizeVolume(ID, a, 2);
  const blocks = await qmp<Array<{ device: string; qdev: string; inserted?: { 'node-name': string; image: { 'virtual-size': number } } }>>(f.qmpSocket, 'query-block');
  const data = blocks.find((b) => b.inserted?.['node-name'] === 'data');
  t.equal(data?.inserted?.image['virtual-size'], 2 * GIB, 'the data disk grew while the VM runs');
  t.equal(statSync(f.dataDisk).size, 2 * GIB);
  await t.rejects(restarted.resizeVolume(ID, a, 1), /is 2 GB; it cannot shrink to 1 GB/);

  t.equal(restarted.bootFailure(ID), null, 'nothing on the console says the agent gave up');
  appendFileSync(f.consoleLog, '\x1b[0;1;31m[FAILED]\x1b[0m Failed to start \x1b[0;1;39mcoffer-agent.service\x1b[0m - Coffer guest agent.\r\n');
  t.equal(restarted.bootFailure(ID), '[FAILED] Failed to start coffer-agent.service - Coffer guest agent.', "systemd's line, without its colours");
  t.match(restarted.consoleTail(ID), /Failed to start coffer-agent.service/);

  await restarted.restart(ID, a);
  const rebooted = Number(readFileSync(f.pidFile, 'utf8'));
  t.not(rebooted, pid, 'restart: a guest that does not power off is stopped, and the VM boots again');
  t.notOk(alive(pid), 'the old QEMU is gone');
  pid = rebooted;

  await restarted.delete(ID, a);
  await waitFor('QEMU to be gone', async () => !alive(pid), 20_000);
  t.notOk(existsSync(f.dir), 'no disk, config drive or console left');
  t.equal(await restarted.status(ID, null), 'missing');
  await restarted.delete(ID, a);
  t.pass('deleted again: nothing to do');
});
