import t from 'tap';
import path from 'node:path';
import { createStorage, DEFAULT_STORAGE, isStorageName, STORAGE_FACTORIES } from '../../../strategies/storage/registry.js';
import { LocalStorage } from '../../../strategies/storage/local.js';
import { SwiftStorage } from '../../../strategies/storage/swift.js';
import { S3Storage } from '../../../strategies/storage/s3.js';
import { bytes, readAll, sha256, upload } from './fixtures/bytes.js';

t.test('the registry knows exactly local, swift and s3; local is the default', async (t) => {
  t.same(Object.keys(STORAGE_FACTORIES).sort(), ['local', 's3', 'swift']);
  t.equal(DEFAULT_STORAGE, 'local');
  t.ok(Object.isFrozen(STORAGE_FACTORIES));
  t.notOk(isStorageName('toString'), 'inherited names are not strategies');
  t.notOk(isStorageName('./local.js'), 'a module path is not a strategy');
});

t.test('createStorage builds each store from its configuration', async (t) => {
  const root = t.testdir();
  const local = createStorage({ storage: 'local', root });
  t.ok(local instanceof LocalStorage);
  const data = bytes(5000);
  const saved = await upload(local.save('i/x', { metadata: {} }), data);
  t.equal(sha256(await readAll((await local.open(saved.location)).stream)), sha256(data));
  t.equal(path.join(root, 'i/x'), path.resolve(root, saved.location));

  const swift = createStorage({
    storage: 'swift',
    container: 'backups',
    auth: { kind: 'token', storageUrl: 'http://127.0.0.1:1/v1/AUTH_x', token: 't' },
  });
  t.ok(swift instanceof SwiftStorage);
  const s3 = createStorage({ storage: 's3', bucket: 'backups', connection: { region: 'us-east-1', endpoint: 'http://127.0.0.1:1' } });
  t.ok(s3 instanceof S3Storage);
});

t.test('an unknown storage name is refused, listing the known ones', async (t) => {
  t.throws(() => createStorage({ storage: 'ceph' } as never), /unknown storage "ceph"; known: local, swift, s3/);
});

t.test('bad options are refused at construction with actionable messages', async (t) => {
  const auth = { kind: 'token', storageUrl: 'http://127.0.0.1:1/v1/AUTH_x', token: 't' } as const;
  t.throws(() => createStorage({ storage: 'swift', container: 'a/b', auth }), /container must be a non-empty name without "\/"/);
  t.throws(() => createStorage({ storage: 'swift', container: 'c', auth, segmentSize: 0 }), /segment size/);
  t.throws(() => createStorage({ storage: 'swift', container: 'c', auth: { ...auth, storageUrl: 'ftp://x' } }), /http/);
  t.throws(() => createStorage({ storage: 'swift', container: 'c', auth, retry: { attempts: 0 } }), /attempts/);
  t.throws(() => createStorage({ storage: 'local', root: '' }), /root directory/);
});
