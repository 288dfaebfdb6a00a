// A deployment that keeps its backups in Swift (--backup-storage): through
// Trove's REST API a backup lands in the real Swift container as a
// segmented object with its metadata beside it, an instance restored from it
// holds the rows, and deleting the backup removes every object of it. When
// Swift goes away, a delete fails with 503 and keeps the backup, so nothing
// is forgotten that still costs storage; and a control restarted without
// the storage file refuses the delete (409) and names the object.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startControl } from '../../support/control.js';
import { tempBase } from '../../support/agent.js';
import { mariadb } from '../../support/mariadb-client.js';
import { restClient, troveSteps } from '../../support/openstack/rest.js';
import { startExtraProxy, startSwift, SwiftProbe } from '../../support/swift.js';

type Row = Record<string, unknown>;

t.setTimeout(600_000);

t.test('backups in Swift: create, restore, delete, and a delete while Swift is away', async (t) => {
  const saio = await startSwift(t);
  const probe = new SwiftProbe(saio);
  // The control and its agents reach Swift through a proxy of their own, so
  // the test can take it away without disturbing other tests.
  const proxy = await startExtraProxy(t, saio);
  const container = `coffer-${randomBytes(4).toString('hex')}`;
  const storageFile = path.join(tempBase('coffer-storage-'), 'backup-storage.json');
  const storage = {
    defaultStorage: 'swift',
    // 1 MiB segments: even a small backup is a manifest and several segments.
    storages: { swift: { auth: { kind: 'tempauth', authUrl: proxy.authUrl, user: saio.user, key: saio.key }, container, segmentSize: 1024 * 1024 } },
  };
  writeFileSync(storageFile, JSON.stringify(storage), { mode: 0o600 });

  const control = await startControl(t, { backupStorage: storageFile });
  const token = control.token('shop');
  const request = restClient(control.restPort);
  const steps = troveSteps(t, request, 'shop', token);
  const createInstance = (name: string, extra: Row = {}): Promise<Row> => steps.create(name, { datastore: { type: 'mariadb', version: '10.11' }, ...extra });
  const { backup } = steps;

  const source = await createInstance('ledger', { databases: [{ name: 'ledger' }], users: [{ name: 'app', password: 'App-pass-1', databases: [{ name: 'ledger' }] }] });
  const sql = (q: string, port = Number(source.port)) => mariadb(port, 'app', 'App-pass-1', q, 'ledger');
  // 50,000 random hashes: about 3 MB after zstd, so several 1 MiB segments.
  const insert = await sql('CREATE TABLE entries (v INT PRIMARY KEY, pad CHAR(128)); INSERT INTO entries SELECT seq, SHA2(RAND(), 512) FROM seq_1_to_50000');
  t.equal(insert.code, 0, insert.stderr);
  const digest = 'SELECT COUNT(*), MD5(GROUP_CONCAT(pad ORDER BY v SEPARATOR \'\')) FROM entries';
  const before = await sql(`SET SESSION group_concat_max_len = 16777216; ${digest}`);

  const full = await backup('full-1', String(source.id));
  t.equal(full.storage_driver, 'swift', 'the backup went to the configured store');
  const location = String(full.locationRef);
  t.match(location, new RegExp(`^${container}/`), `locationRef is in the container: ${location}`);
  t.ok(await probe.head(location), 'the object is in Swift');
  t.ok(await probe.head(`${location}.metadata.json`), 'its metadata object is beside it');
  const segments = await probe.list(`${container}_segments`);
  t.ok(segments.length >= 3, `stored as ${segments.length} segments`);

  await t.test('an instance restored from the Swift backup holds the rows', async (t) => {
    const copy = await createInstance('ledger-copy', { restorePoint: { backupRef: String(full.id) } });
    const rows = await sql(`SET SESSION group_concat_max_len = 16777216; ${digest}`, Number(copy.port));
    t.equal(rows.code, 0, rows.stderr);
    t.match(rows.stdout, /^50000\t[0-9a-f]{32}$/m);
    t.equal(rows.stdout, before.stdout, 'the same 50,000 rows, byte for byte');
  });

  await t.test('deleting the backup removes its object, its segments and its metadata from Swift', async (t) => {
    const r = await request('DELETE', `/v1.0/shop/backups/${String(full.id)}`, { token });
    t.equal(r.status, 202, r.text);
    t.equal((await request('GET', `/v1.0/shop/backups/${String(full.id)}`, { token })).status, 404, 'gone from the API');
    t.equal(await probe.head(location), null, 'the object is gone');
    t.equal(await probe.head(`${location}.metadata.json`), null, 'the metadata is gone');
    t.same(await probe.list(`${container}_segments`), [], 'no segment is left');
  });

  await t.test('Swift away: the delete fails with 503 and the backup and its object stay', async (t) => {
    const second = await backup('full-2', String(source.id));
    const loc = String(second.locationRef);
    await proxy.stop();
    const r = await request('DELETE', `/v1.0/shop/backups/${String(second.id)}`, { token });
    t.equal(r.status, 503, r.text);
    t.match(r.text, /removing its object from swift failed/);
    t.match(r.text, /the backup is kept, try the delete again/);
    t.notMatch(r.text, saio.key, 'no credential in the answer');
    const still = await request('GET', `/v1.0/shop/backups/${String(second.id)}`, { token });
    t.equal(still.status, 200, 'still listed');
    t.equal(still.body.backup.status, 'COMPLETED', 'and still usable');
    t.ok(await probe.head(loc), 'its object is still in Swift (through the main proxy)');

    await t.test('restarted without --backup-storage: the delete is refused with 409, naming the object', async (t) => {
      await control.kill('SIGTERM');
      const at = control.args.indexOf('--backup-storage');
      t.ok(at > 0, 'it was started with --backup-storage');
      control.args.splice(at, 2);
      await control.start();
      const refused = await request('DELETE', `/v1.0/shop/backups/${String(second.id)}`, { token });
      t.equal(refused.status, 409, refused.text);
      t.match(refused.body?.conflictingRequest?.message, `is stored in swift, which this deployment no longer configures (--backup-storage); its object ${loc} was not removed`);
      t.equal((await request('GET', `/v1.0/shop/backups/${String(second.id)}`, { token })).status, 200, 'still listed');
      t.ok(await probe.head(loc), 'its object is untouched');
    });
  });
});
