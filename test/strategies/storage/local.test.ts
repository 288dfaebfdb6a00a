import t from 'tap';
import { mkdir, readdir, readFile, stat, symlink } from 'node:fs/promises';
import path from 'node:path';
import { LocalStorage } from '../../../strategies/storage/local.js';
import { bytes, MiB, readAll, rejection, sha256, thrown, upload, write } from './fixtures/bytes.js';

/** Every file under `dir`, recursively, as relative paths. */
async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort();
}

t.test('bytes and metadata round-trip; the file is renamed into place with a 0600 sidecar', async (t) => {
  const root = t.testdir();
  const store = new LocalStorage({ root });
  const data = bytes(3 * MiB + 4321);
  const saved = await upload(store.save('inst-1/backup-1.xbstream', { metadata: { 'backup-id': 'b1', datastore: 'mariadb-11.4' } }), data);

  t.same(saved, { storage: 'local', location: 'inst-1/backup-1.xbstream', size: data.length, sha256: sha256(data) });
  t.equal(sha256(await readFile(path.join(root, 'inst-1/backup-1.xbstream'))), sha256(data), 'file on disk holds the bytes');
  t.same(await files(root), ['inst-1/.backup-1.xbstream.meta.json', 'inst-1/backup-1.xbstream'], 'no partial file left');
  t.equal((await stat(path.join(root, 'inst-1/.backup-1.xbstream.meta.json'))).mode & 0o777, 0o600);

  const opened = await store.open(saved.location);
  t.equal(opened.size, data.length);
  t.same(opened.metadata, { 'backup-id': 'b1', datastore: 'mariadb-11.4' });
  t.equal(sha256(await readAll(opened.stream)), sha256(data), 'open() gives the same bytes');
  t.same(await store.stat(saved.location), { size: data.length, metadata: { 'backup-id': 'b1', datastore: 'mariadb-11.4' } });
});

t.test('an empty object is stored and read back', async (t) => {
  const store = new LocalStorage({ root: t.testdir() });
  const saved = await upload(store.save('i/empty', { metadata: {} }), Buffer.alloc(0));
  t.equal(saved.size, 0);
  t.equal(saved.sha256, sha256(Buffer.alloc(0)));
  t.equal((await readAll((await store.open('i/empty')).stream)).length, 0);
});

t.test('a sink destroyed mid-upload leaves no file, and done reports why', async (t) => {
  const root = t.testdir();
  const store = new LocalStorage({ root });
  const sink = store.save('inst/b.bin', { metadata: {} });
  await write(sink.stream, bytes(MiB));
  t.ok((await files(root)).some((f) => f.includes('.partial-')), 'a partial file exists while writing');
  sink.stream.destroy(new Error('mariabackup exited with code 1'));
  const err = await rejection(sink.done);
  t.match(err.message, /mariabackup exited with code 1/);
  t.same(await files(root), [], 'partial file removed, nothing committed');
  t.equal((await rejection(store.open('inst/b.bin'))).kind, 'NOT_FOUND');
});

t.test('an aborted signal cancels the upload and removes the partial file', async (t) => {
  const root = t.testdir();
  const store = new LocalStorage({ root });
  const ac = new AbortController();
  const sink = store.save('inst/c.bin', { metadata: {}, signal: ac.signal });
  await write(sink.stream, bytes(100_000));
  ac.abort();
  const err = await rejection(sink.done);
  t.equal(err.kind, 'CANCELLED');
  t.same(await files(root), []);
});

t.test('hostile keys are refused with a clear error and write nothing', async (t) => {
  const parent = t.testdir({ root: {} });
  const root = path.join(parent, 'root');
  const store = new LocalStorage({ root });
  const cases: [string, RegExp][] = [
    ['../x', /escape/],
    ['a/../../x', /escape/],
    ['/etc/passwd', /absolute/],
    ['a\nb', /control character/],
    ['.hidden', /starting with "\."/],
    ['a//b', /empty path segment/],
    ['', /empty/],
  ];
  for (const [key, why] of cases) {
    const err = thrown(() => store.save(key, { metadata: {} }));
    t.equal(err.kind, 'INVALID_ARGUMENT', `save(${JSON.stringify(key)}) refused`);
    t.match(err.message, why);
  }
  t.equal((await rejection(store.open('../root/x'))).kind, 'INVALID_ARGUMENT', 'open refuses too');
  t.equal((await rejection(store.stat('/etc/passwd'))).kind, 'INVALID_ARGUMENT', 'stat refuses too');
  t.equal((await rejection(store.delete('../x'))).kind, 'INVALID_ARGUMENT', 'delete refuses too');
  t.same(await files(parent), [], 'nothing written anywhere');
});

t.test('a directory symlinked out of the root is refused', async (t) => {
  const parent = t.testdir({ root: {}, outside: {} });
  await symlink(path.join(parent, 'outside'), path.join(parent, 'root', 'link'));
  const store = new LocalStorage({ root: path.join(parent, 'root') });
  const sink = store.save('link/x.bin', { metadata: {} });
  sink.stream.end(bytes(10));
  const err = await rejection(sink.done);
  t.equal(err.kind, 'INVALID_ARGUMENT');
  t.match(err.message, /symlink/);
  t.same(await readdir(path.join(parent, 'outside')), [], 'nothing written outside the root');
});

t.test('metadata that would not survive as a header is refused', async (t) => {
  const store = new LocalStorage({ root: t.testdir() });
  const refused: Record<string, string>[] = [{ note: 'a\nX-Injected: 1' }, { Upper: 'x' }, { ok: ' padded ' }, { ok: '' }, { ok: 'x'.repeat(257) }];
  for (const metadata of refused) {
    const err = thrown(() => store.save('i/m', { metadata }));
    t.equal(err.kind, 'INVALID_ARGUMENT', JSON.stringify(metadata));
  }
});

t.test('delete removes the object and its sidecar; deleting twice is fine', async (t) => {
  const root = t.testdir();
  const store = new LocalStorage({ root });
  await mkdir(root, { recursive: true });
  const saved = await upload(store.save('i/d.bin', { metadata: { a: 'b' } }), bytes(1000));
  await store.delete(saved.location);
  await store.delete(saved.location);
  t.same(await files(root), []);
  t.equal((await rejection(store.stat(saved.location))).kind, 'NOT_FOUND');
});

t.test('removeAbandoned removes the partial files of uploads nobody finishes, and nothing else', async (t) => {
  const root = t.testdir();
  const store = new LocalStorage({ root });
  const kept = await upload(store.save('inst/kept.backup', { metadata: {} }), bytes(MiB));
  // A file's mtime comes from the kernel's coarse clock, which can be some
  // milliseconds behind Date.now(): a cutoff a second back is before both
  // uploads below on any clock.
  const before = Date.now() - 1000;
  // A sink that is neither ended nor destroyed: what a killed process leaves.
  const hung = store.save('inst/hung.backup', { metadata: {} });
  await write(hung.stream, bytes(2 * MiB));
  const other = store.save('inst/other.backup', { metadata: {} });
  await write(other.stream, bytes(2 * MiB));
  t.teardown(() => {
    hung.stream.destroy();
    other.stream.destroy();
  });
  const partial = /^inst\/\.(hung|other)\.backup\.partial-[0-9a-f]{12}$/;
  t.equal((await files(root)).filter((f) => partial.test(f)).length, 2, 'two partial files');

  t.same(await store.removeAbandoned('inst/', { startedBefore: before }), [], 'uploads started after the cutoff are kept');
  const removed = await store.removeAbandoned('inst/hung.backup');
  t.match(removed, [/^inst\/\.hung\.backup\.partial-/], 'a key prefix takes only its own partial');
  t.equal((await store.removeAbandoned('inst/')).length, 1, 'a folder prefix takes the rest');
  t.same(await files(root), ['inst/.kept.backup.meta.json', 'inst/kept.backup'], 'the committed object and its sidecar stay');
  t.equal((await readAll((await store.open(kept.location)).stream)).length, MiB);
  t.same(await store.removeAbandoned('nobody/'), [], 'a prefix with nothing under it is fine');
  t.equal((await rejection(store.removeAbandoned('../x/'))).kind, 'INVALID_ARGUMENT', 'a prefix that leaves the root is refused');
});
