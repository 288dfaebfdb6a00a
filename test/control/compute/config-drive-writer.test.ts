// The config drive as a guest reads it: written by the real xorriso from a
// guest config built with real certificates, then read back with xorriso's
// own reader (osirrox): the volume label Nova and cloud-init look for,
// openstack/latest/meta_data.json listing every file with its guest path,
// each file's bytes, root-only modes inside the ISO and on the host, and
// the guest's boot config pointing at the guest's paths and addresses.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../../lib/logger.js';
import { ProcessRunner } from '../../../lib/process-runner.js';
import { CONFIG_DRIVE_LABEL, GUEST_AGENT_CONFIG, GUEST_BASE_DIR, META_DATA_PATH, type MetaData } from '../../../lib/config-drive.js';
import { writeConfigDrive } from '../../../control/compute/config-drive-writer.js';
import { guestConfig, GUEST_DATA_DEVICE } from '../../../control/compute/guest-config.js';
import { LOCAL_ONLY } from '../../../control/backup-storage.js';
import { makePki } from '../../support/certs.js';

const ID = '3f2a9c1e-0000-4000-8000-00000000c0de';

t.test('a config drive: label, meta_data.json, the files and their modes', async (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'coffer-cfgdrive-'));
  const pki = makePki();
  t.teardown(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(pki.dir, { recursive: true, force: true });
  });
  const id = pki.issue(ID, { server: true });
  const ds = pki.issue(`${ID}-datastore`, { server: true });
  const backupKey = path.join(root, 'backup.key');
  writeFileSync(backupKey, 'k'.repeat(64), { mode: 0o600 });

  const g = guestConfig(
    { agentAddress: '127.0.0.1:21001', datastoreHost: '127.0.0.1', datastorePort: 21002, details: {} },
    { instanceId: ID, datastore: 'mariadb', datastoreVersion: '10.11', controlEndpoint: '127.0.0.1:8781', heartbeatSeconds: 10, logLevel: 'info', backupKeyFile: backupKey, backupDir: '/host/backups', backupStorage: LOCAL_ONLY },
    { cert: id.cert, key: id.key, ca: pki.ca, datastore: { cert: ds.cert, key: ds.key } },
  );
  t.equal(g.boot.controlEndpoint, '10.0.2.100:8791', 'the agent reports to the conductor through the guest forward');
  t.equal(g.boot.listen, '0.0.0.0:8790', 'the agent listens on its guest port');
  t.equal(g.boot.datastorePort, 21002, 'the datastore listens on the forwarded port');
  t.same(g.boot.dataVolume, { devicePath: GUEST_DATA_DEVICE, mountPoint: '/var/lib/coffer/volume' }, 'the data volume by its virtio serial, mounted at the base dir');
  t.equal(g.boot.baseDir, '/var/lib/coffer/volume', 'under the one directory the agent\'s unit may write');
  t.ok(g.boot.baseDir.startsWith(`${GUEST_BASE_DIR}/`));
  t.equal(GUEST_DATA_DEVICE, '/dev/disk/by-id/virtio-coffer-data');
  t.notOk(JSON.stringify(g.boot).includes(root), 'no host path in the guest config');

  const iso = path.join(root, 'config-2.iso');
  const runner = new ProcessRunner(createLogger({ name: 'test', level: 'silent' }));
  await writeConfigDrive(runner, iso, { uuid: ID, name: 'db1', hostname: 'coffer-3f2a9c1e', project_id: 'p1', meta: { coffer_format: '1' } }, g.files);
  t.equal(statSync(iso).mode & 0o777, 0o600, 'the ISO holds keys: 0600 on the host');
  t.same(readdirSync(root).sort(), ['backup.key', 'config-2.iso'], 'no staging directory or temporary file left');

  const pvd = execFileSync('xorriso', ['-indev', iso, '-pvd_info'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  t.match(pvd, new RegExp(`Volume Id\\s*:\\s*${CONFIG_DRIVE_LABEL}\\b`), 'labelled config-2');
  const out = path.join(root, 'read');
  execFileSync('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/', out], { stdio: 'ignore' });
  const meta = JSON.parse(readFileSync(path.join(out, META_DATA_PATH), 'utf8')) as MetaData;
  t.equal(meta.uuid, ID);
  t.same(meta.meta, { coffer_format: '1' });
  t.same(
    meta.files.map((f) => f.path),
    [GUEST_AGENT_CONFIG, ...['instance.crt', 'instance.key', 'ca.crt', 'datastore.crt', 'datastore.key', 'backup.key'].map((n) => `/etc/coffer/tls/${n}`)],
    'the boot config first, then every certificate, key and the backup key',
  );
  t.same(meta.files.map((f) => f.content_path), ['/content/0000', '/content/0001', '/content/0002', '/content/0003', '/content/0004', '/content/0005', '/content/0006'], "Nova's content names");
  const onIso = (f: { content_path: string }) => path.join(out, 'openstack', f.content_path);
  t.same(JSON.parse(readFileSync(onIso(meta.files[0]!), 'utf8')), g.boot, 'the boot config as built');
  t.equal(readFileSync(onIso(meta.files[2]!), 'utf8'), readFileSync(id.key, 'utf8'), "the instance's key, byte for byte");
  t.equal(readFileSync(onIso(meta.files[6]!), 'utf8'), 'k'.repeat(64), 'the backup key');
  // Rock Ridge keeps the modes: a guest's non-root user cannot read the drive.
  const listing = execFileSync('xorriso', ['-indev', iso, '-lsl', '/openstack/content', '/openstack/latest', '--'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const modes = listing.split('\n').filter((l) => /^[-d]r/.test(l)).map((l) => l.split(/\s+/)[0]);
  t.equal(modes.length, 8, 'seven content files and meta_data.json listed');
  t.ok(modes.every((m) => m === '-rw-------'), `every file 0600 in the ISO (${[...new Set(modes)].join(' ')})`);

  t.rejects(writeConfigDrive(runner, path.join(root, 'bad.iso'), { uuid: ID, name: 'x', hostname: 'x', project_id: '', meta: {} }, [{ path: 'etc/x', content: Buffer.from('') }]), /must be absolute/);
  t.notOk(existsSync(path.join(root, 'bad.iso')));
});
