// The data volume (boot config dataVolume; lifecycle/data-volume.ts) on a
// real loop device, with a real Redis (it prepares in seconds): Prepare
// formats the blank device and mounts it where the datastore's data lives;
// the disk grown underneath (truncate + losetup -c, as QMP's block_resize
// grows a VM's) is taken up online by ResizeFilesystem; an agent started
// again with the volume unmounted (a reboot) mounts it before the datastore
// starts; a device that does not exist fails Prepare naming it. The mount
// and the loop device go in teardown whatever failed.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { call, collect, startAgent, tempBase, waitFor, killLeftoverDatastore, type AgentProcess } from '../../support/agent.js';
import { redisCli } from '../../support/redis-cli.js';
import { DatastoreState, type GetStatusResponse, type PrepareResponse, type ResizeFilesystemResponse } from '../../../proto/gen/coffer/agent/v1/lifecycle.js';

t.setTimeout(5 * 60_000);

const USER = 'app';
const PASSWORD = 'Volume-pass-1';
const PREPARE = {
  datastoreVersion: '7.0', rootPassword: '', databases: [], overrides: { maxmemory: '32M' }, restore: undefined, replicaOf: undefined,
  users: [{ name: USER, host: '', password: PASSWORD, databases: [], rules: ['~*', '+@all'] }],
};
const MiB = 1024 * 1024;

const status = (a: AgentProcess) => call<object, GetStatusResponse>(a.clients.lifecycle, 'getStatus', {});
const sh = (...argv: string[]): string => execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8' }).trim();
/** The device mounted at dir, from mountinfo ("major:minor"), or ''. */
const mountedAt = (dir: string): string =>
  readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')).filter((f) => f[4] === dir).map((f) => f[2]!).at(-1) ?? '';
const devOf = (file: string): string => {
  const r = statSync(file).rdev;
  return `${(r >> 8) & 0xfff}:${(r & 0xff) | ((r >> 12) & 0xfff00)}`;
};
const devOfFile = (file: string): number => statSync(file).dev;

t.test('Prepare formats and mounts the data volume, ResizeFilesystem grows it, a restart mounts it again', async (t) => {
  const root = tempBase('coffer-vol-');
  const image = path.join(root, 'disk.img');
  const base = path.join(root, 'base');
  mkdirSync(base, { mode: 0o755 });
  writeFileSync(image, '');
  execFileSync('truncate', ['-s', `${64 * MiB}`, image]);
  const device = sh('losetup', '-f', '--show', image);
  const stray = path.join(root, 'stray');
  const agents: AgentProcess[] = [];
  t.teardown(async () => {
    // The agents (and their Redis) first: a busy mount cannot go.
    for (const a of agents) await a.stop();
    killLeftoverDatastore(base);
    for (let i = 0; i < 20 && mountedAt(base); i++) {
      try {
        execFileSync('umount', [base]);
      } catch {
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    if (mountedAt(base)) execFileSync('umount', ['-l', base]);
    if (mountedAt(stray)) execFileSync('umount', ['-l', stray]);
    execFileSync('losetup', ['-d', device]);
    rmSync(root, { recursive: true, force: true });
  });
  const configFile = (name: string, devicePath: string, baseDir: string): string => {
    const f = path.join(root, `${name}.json`);
    writeFileSync(f, JSON.stringify({ dataVolume: { devicePath, mountPoint: baseDir } }), { mode: 0o600 });
    return f;
  };
  const start = async (config: string, baseDir: string, datastorePort?: number): Promise<AgentProcess> => {
    const a = await startAgent(t, { datastore: 'redis', baseDir, datastorePort, extraArgs: ['--config', config] });
    agents.push(a);
    return a;
  };

  // A device that does not exist: Prepare fails naming it.
  const elsewhere = path.join(root, 'other');
  mkdirSync(elsewhere, { mode: 0o755 });
  const missing = '/dev/disk/by-id/virtio-coffer-no-such-disk';
  const a0 = await start(configFile('missing', missing, elsewhere), elsewhere);
  const failed = await collect<PrepareResponse>(a0.clients.lifecycle.prepare(PREPARE)).catch((e: { details?: string }) => e);
  t.match((failed as { details?: string }).details, missing, `Prepare fails naming the device: ${(failed as { details?: string }).details}`);
  t.equal((await status(a0)).state, DatastoreState.DATASTORE_STATE_FAILED, 'the instance is FAILED');
  await a0.stop();

  // Prepare on the blank device: formatted, mounted at the base dir, Redis's data on it.
  const blank = (() => {
    try {
      return execFileSync('blkid', ['-p', device], { encoding: 'utf8' }).trim() === '';
    } catch (err) {
      return (err as { status?: number }).status === 2;
    }
  })();
  t.ok(blank, 'the loop device starts with no filesystem');
  const config = configFile('volume', device, base);
  const a1 = await start(config, base);
  const events = await collect<PrepareResponse>(a1.clients.lifecycle.prepare(PREPARE));
  t.equal(events.at(-1)?.result?.state, DatastoreState.DATASTORE_STATE_ACTIVE, 'Prepare ends ACTIVE');
  t.equal(events.find((e) => e.progress)?.progress?.phase, 'validate');
  t.ok(events.some((e) => e.progress?.phase === 'volume'), 'with a volume phase');
  t.equal(sh('blkid', '-p', '-o', 'value', '-s', 'TYPE', device), 'ext4', 'the device now holds ext4');
  t.equal(mountedAt(base), devOf(device), 'mounted at the mount point (the base dir)');
  t.ok(existsSync(path.join(base, 'data', 'appendonlydir')), "Redis's append-only files are in its data dir");
  t.equal(devOfFile(path.join(base, 'data', 'appendonlydir')), statSync(base).dev, 'on the mounted filesystem');
  t.ok(existsSync(path.join(base, 'agent', 'state.json')), "the agent's state was carried onto it");
  t.equal((await redisCli(a1.datastorePort, USER, PASSWORD, ['SET', 'kept', 'on-the-volume'])).stdout.trim(), 'OK');

  // The disk grows underneath; ResizeFilesystem takes it up online.
  const before = (await status(a1)).volume!;
  t.ok(before.totalBytes > 40 * MiB && before.totalBytes < 64 * MiB, `GetStatus reports the 64 MiB filesystem (${before.totalBytes} bytes)`);
  execFileSync('truncate', ['-s', `${128 * MiB}`, image]);
  execFileSync('losetup', ['-c', device]);
  const resized = await call<object, ResizeFilesystemResponse>(a1.clients.lifecycle, 'resizeFilesystem', {});
  t.ok(resized.volume!.totalBytes > before.totalBytes + 50 * MiB, `ResizeFilesystem answers the grown volume (${resized.volume!.totalBytes} bytes)`);
  t.ok((await status(a1)).volume!.totalBytes > before.totalBytes + 50 * MiB, 'and GetStatus reports it');
  t.equal((await redisCli(a1.datastorePort, USER, PASSWORD, ['GET', 'kept'])).stdout.trim(), 'on-the-volume', 'Redis runs on it, its data there');

  // A reboot: the agent stops, the volume is unmounted; the agent started
  // again mounts it before its datastore starts.
  await a1.stop();
  execFileSync('umount', [base]);
  t.equal(mountedAt(base), '', 'unmounted');
  t.notOk(existsSync(path.join(base, 'agent', 'state.json')), 'nothing of the instance is on the disk underneath');
  // Mounted somewhere else, the agent will not start on it.
  mkdirSync(stray);
  execFileSync('mount', [device, stray]);
  const refused = await start(config, base, a1.datastorePort).catch((e: Error) => e);
  t.match(String(refused), `data volume device ${device} is mounted at ${stray}, not at ${base}`, 'an agent whose volume is mounted elsewhere refuses to start, naming both places');
  execFileSync('umount', [stray]);
  const a2 = await start(config, base, a1.datastorePort);
  t.equal(mountedAt(base), devOf(device), 'the agent mounted the volume again at start');
  await waitFor('Redis to be ACTIVE again', async () => (await status(a2)).state === DatastoreState.DATASTORE_STATE_ACTIVE, 60_000);
  t.equal((await redisCli(a2.datastorePort, USER, PASSWORD, ['GET', 'kept'])).stdout.trim(), 'on-the-volume', 'and the data is back');
  t.ok((await status(a2)).volume!.totalBytes > before.totalBytes + 50 * MiB, 'on the grown filesystem');
});
