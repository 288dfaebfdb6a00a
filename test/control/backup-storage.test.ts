// --backup-storage: the file an operator writes to send backups to Swift or
// S3. Every mistake in it stops the control at start with a message naming
// the file and the field, and the file's credentials never reach stderr.
import t from 'tap';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { BackupStorageError, loadBackupStorage, LOCAL_ONLY, storeFor } from '../../control/backup-storage.js';
import { CONTROL_BIN } from '../support/control.js';
import { agentEnv, withoutTapLoaders } from '../support/agent.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-stcfg-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function file(content: unknown, mode = 0o600): string {
  const f = path.join(dir, `storage-${n++}.json`);
  writeFileSync(f, typeof content === 'string' ? content : JSON.stringify(content));
  chmodSync(f, mode);
  return f;
}

const SWIFT = { auth: { kind: 'tempauth', authUrl: 'http://127.0.0.1:1/auth/v1.0', user: 'test:tester', key: 'Sw1ft-s3cret' }, container: 'backups' };
const S3 = { connection: { endpoint: 'http://127.0.0.1:1', region: 'RegionOne', forcePathStyle: true }, bucket: 'backups' };

t.test('no file: local backups under the data dir', async (t) => {
  t.same(loadBackupStorage(undefined), LOCAL_ONLY);
  t.equal(loadBackupStorage(undefined).defaultStorage, 'local');
});

t.test('a good file: its default and its stores', async (t) => {
  const s = loadBackupStorage(file({ defaultStorage: 'swift', storages: { swift: SWIFT, s3: S3 } }));
  t.equal(s.defaultStorage, 'swift');
  t.same(Object.keys(s.storages).sort(), ['s3', 'swift']);
  t.equal(storeFor('swift', s, dir)?.name, 'swift');
  t.equal(storeFor('s3', s, dir)?.name, 's3');
  t.equal(storeFor('local', s, dir)?.name, 'local', 'local is always reachable: it is the data dir');
  const swiftOnly = loadBackupStorage(file({ defaultStorage: 'swift', storages: { swift: SWIFT } }));
  t.equal(storeFor('s3', swiftOnly, dir), undefined, 'a store the file does not configure');
  t.equal(storeFor('ftp', swiftOnly, dir), undefined);
});

t.test('each mistake is named', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['not JSON', file('{"defaultStorage": swift}'), /is not valid JSON/],
    ['an array', file([]), /must be a JSON object/],
    ['an unknown field', file({ defaultStorage: 'swift', storages: { swift: SWIFT }, region: 'x' }), /unknown field "region"/],
    ['storages not an object', file({ storages: 'swift' }), /"storages" must be an object/],
    ['local settings', file({ storages: { local: { root: '/tmp' } } }), /"storages.local" takes no settings/],
    ['an unknown store', file({ storages: { ftp: {} } }), /"storages.ftp" is not a storage; known: swift, s3/],
    ['swift without auth', file({ defaultStorage: 'swift', storages: { swift: { container: 'b' } } }), /"storages.swift": swift needs "auth"/],
    ['swift with a bad URL', file({ storages: { swift: { ...SWIFT, auth: { ...SWIFT.auth, authUrl: 'ftp://x' } } } }), /"storages.swift": swift tempauth URL must start with http/],
    ['swift with a bad container', file({ storages: { swift: { ...SWIFT, container: 'a/b' } } }), /"storages.swift": swift container must be a non-empty name without "\/"/],
    ['s3 without connection', file({ storages: { s3: { bucket: 'b' } } }), /"storages.s3": s3 needs "connection"/],
    ['s3 without region', file({ storages: { s3: { ...S3, connection: { endpoint: 'http://127.0.0.1:1' } } } }), /"storages.s3": s3 needs a region/],
    ['an unknown default', file({ defaultStorage: 'ftp' }), /"defaultStorage" must be local, swift or s3, got "ftp"/],
    ['a default not configured', file({ defaultStorage: 's3', storages: { swift: SWIFT } }), /"defaultStorage" is s3, but "storages.s3" is not configured/],
    ['readable by others', file({ defaultStorage: 'swift', storages: { swift: SWIFT } }, 0o644), /holds credentials but is readable by others \(mode 644\); chmod 600 it/],
    ['missing', path.join(dir, 'nope.json'), /cannot be read \(ENOENT\)/],
  ];
  for (const [what, f, re] of cases) {
    t.throws(() => loadBackupStorage(f), { name: 'BackupStorageError', message: new RegExp(`^--backup-storage ${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ${re.source}`) }, what);
  }
  t.ok(new BackupStorageError('f', 'x') instanceof Error);
});

t.test('coffer-control serve refuses a bad file at start: exit 2, the reason, no secret', async (t) => {
  const leaky = file({ defaultStorage: 's3', storages: { swift: SWIFT } });
  const r = spawnSync(...withoutTapLoaders([process.execPath, CONTROL_BIN, 'serve', '--data-dir', path.join(dir, 'data'), '--backup-storage', leaky]), { env: agentEnv(), encoding: 'utf8', timeout: 60_000 });
  t.equal(r.status, 2, 'exit status 2: a usage error');
  t.match(r.stderr, `coffer-control: --backup-storage ${leaky}: "defaultStorage" is s3, but "storages.s3" is not configured`);
  t.notMatch(r.stderr + r.stdout, 'Sw1ft-s3cret', 'the key in the file is not printed');
});

t.test('coffer-control serve refuses a data dir too long for its instances\' unix sockets', async (t) => {
  const long = path.join(dir, 'd'.repeat(60));
  const r = spawnSync(...withoutTapLoaders([process.execPath, CONTROL_BIN, 'serve', '--data-dir', long]), { env: agentEnv(), encoding: 'utf8', timeout: 60_000 });
  t.equal(r.status, 2);
  t.match(r.stderr, `coffer-control: --data-dir ${long} is too long for the instances under it: the base dir ${long}/instances/`);
  t.match(r.stderr, /over the 107 a socket path may have: use a base dir of at most 87 bytes/);
});
