// ReplaySession, what serves archived WAL segments to PostgreSQL's
// restore_command during a restore to a point, against a real local store
// holding objects the real archiver wrote: the PostgreSQL archiving
// capability and the archive core's Archiver compress, encrypt and upload
// each file and record its catalogue entry, as on an instance. No server
// runs: the files are random bytes under segment names (pg_waldump finds no
// commits in them), which is all a session reads. Shown: each file's exact
// bytes in order; the fetch of the next file started before it is asked for
// (one ahead); a damaged next object refused as INTEGRITY naming it, which
// `failed` reports and later fetches rethrow; no fetch ahead once the
// restore's signal is aborted.
import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createLogger } from '../../../lib/logger.js';
import { lookupOsUser } from '../../../lib/os-user.js';
import { ProcessRunner } from '../../../lib/process-runner.js';
import { layoutFor } from '../../../agent/layout.js';
import { Archiver } from '../../../agent/archive/archiver.js';
import { readCatalogue } from '../../../agent/archive/catalogue.js';
import { ReplaySession } from '../../../agent/archive/replay-session.js';
import { PgArchive } from '../../../agent/managers/postgresql/archive/capability.js';
import { PgClient } from '../../../agent/managers/postgresql/pg-client.js';
import type { ArchivedObject } from '../../../strategies/archive/layout.js';
import { LocalStorage } from '../../../strategies/storage/local.js';
import type { ObjectStorage } from '../../../strategies/storage/storage.js';
import { tempBase, waitFor } from '../../support/agent.js';
import { ofKind } from '../../support/error-kind.js';

const log = createLogger({ level: 'silent' });
const runner = new ProcessRunner(log);
const NAMES = ['000000010000000000000003', '000000010000000000000004', '000000010000000000000005'];
const PREFIX = 'source/archive';

interface Archive {
  readonly root: string;
  readonly store: LocalStorage;
  readonly wrappingKey: Buffer;
  /** The catalogue's entries, as the archiver recorded them. */
  readonly objects: readonly ArchivedObject[];
  /** Each file's bytes as the datastore handed it over. */
  readonly files: ReadonlyMap<string, Buffer>;
}

/** NAMES handed over to the real archiver (the PostgreSQL capability, no server running) and stored in a local store. */
async function archived(t: Test): Promise<Archive> {
  const dir = tempBase('coffer-replay-session-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const layout = layoutFor(path.join(dir, 'instance'));
  const walDir = path.join(layout.dataDir, 'pg_wal');
  mkdirSync(walDir, { recursive: true });
  mkdirSync(layout.agentDir, { recursive: true });
  const files = new Map<string, Buffer>();
  // Sizes differ so that one file's bytes can never pass for another's.
  NAMES.forEach((name, i) => {
    const bytes = randomBytes(192 * 1024 + i * 4096);
    writeFileSync(path.join(walDir, name), bytes);
    files.set(name, bytes);
  });
  const root = path.join(dir, 'backups');
  const store = new LocalStorage({ root });
  const wrappingKey = randomBytes(32);
  const capability = new PgArchive({
    version: '15',
    layout,
    runner,
    sql: new PgClient({ socketDir: layout.runDir, port: 5432, user: 'coffer_admin', log }),
    pgUser: () => lookupOsUser('postgres'),
    // No server: nothing to render or reload.
    rewriteConfig: async () => undefined,
    running: () => false,
  });
  const archiver = new Archiver({ capability, instanceId: 'source', agentDir: layout.agentDir, store: () => store, defaultStorage: store.name, wrappingKey: () => wrappingKey, runner, log, restartDatastore: async () => undefined });
  await archiver.configure(true, { storage: { storage: store.name, location: PREFIX }, keyId: '', archiveTimeoutSeconds: 60, parallelism: 1, compression: 'zstd', retentionDays: 0 });
  for (const name of NAMES) t.equal(await archiver.handOver(name), 'archived', `${name} archived`);
  const { objects } = await readCatalogue(store, PREFIX, 'wal');
  t.same(objects.map((o) => o.name), NAMES, 'the catalogue lists every file');
  return { root, store, wrappingKey, objects, files };
}

/**
 * The real store behind a thin recording wrapper: it records the location
 * of every open() and delegates every call unchanged (no fault, no delay).
 */
function recording(inner: ObjectStorage): ObjectStorage & { readonly opened: string[] } {
  const opened: string[] = [];
  return {
    opened,
    name: inner.name,
    save: (key, opts) => inner.save(key, opts),
    open: (location, opts) => {
      opened.push(location);
      return inner.open(location, opts);
    },
    stat: (location) => inner.stat(location),
    delete: (location) => inner.delete(location),
    locationOf: (key) => inner.locationOf(key),
    removeAbandoned: (prefix, opts) => inner.removeAbandoned(prefix, opts),
  };
}

const sessionOf = (a: Archive, store: ObjectStorage, signal = new AbortController().signal): ReplaySession =>
  new ReplaySession(a.objects, { store, wrappingKey: a.wrappingKey, runner, log }, signal);

const locationOf = (a: Archive, name: string): string => a.store.locationOf(a.objects.find((o) => o.name === name)!.key);
const opens = (s: { opened: string[] }, location: string): number => s.opened.filter((l) => l === location).length;

t.test("fetch serves each archived file's exact bytes in order; a name the archive does not hold is undefined", async (t) => {
  const a = await archived(t);
  const session = sessionOf(a, a.store);
  for (const name of NAMES) {
    const bytes = await session.fetch(name);
    t.ok(bytes?.equals(a.files.get(name)!), `${name}: the bytes handed over`);
  }
  t.equal(session.served, NAMES.length, 'every file counted as served');
  t.equal(session.lastServed, NAMES.at(-1), 'the last one served named');
  t.equal(await session.fetch('000000010000000000000006'), undefined, 'a segment past the archive: not found');
  t.equal(await session.fetch('00000002.history'), undefined, 'a history file never archived: not found');
});

t.test('fetch-ahead: the next file is opened from the store before it is asked for (a recording wrapper around the real store: it records open() and delegates, changing nothing)', async (t) => {
  const a = await archived(t);
  const store = recording(a.store);
  const session = sessionOf(a, store);
  const [first, second, third] = NAMES.map((n) => locationOf(a, n));
  const firstBytes = session.fetch(NAMES[0]!);
  await waitFor('the second file opened ahead of its request', async () => opens(store, second!) > 0, 20_000);
  t.equal(opens(store, third!), 0, 'only one ahead: the third is not opened yet');
  t.ok((await firstBytes)?.equals(a.files.get(NAMES[0]!)!), 'the first file served');
  t.ok((await session.fetch(NAMES[1]!))?.equals(a.files.get(NAMES[1]!)!), 'the second file served');
  t.equal(opens(store, second!), 1, 'the second file served from the fetch ahead: opened once');
  await waitFor('the third file opened ahead of its request', async () => opens(store, third!) > 0, 20_000);
  t.ok((await session.fetch(NAMES[2]!))?.equals(a.files.get(NAMES[2]!)!), 'the third file served');
  t.same([opens(store, first!), opens(store, second!), opens(store, third!)], [1, 1, 1], 'each file opened once');
});

t.test('a damaged next file: the one before it is served; asking for it fails as INTEGRITY naming it, `failed` rejects with it and later fetches rethrow it', async (t) => {
  const a = await archived(t);
  // Tamper with the second object on disk, in the middle of its frames.
  const damaged = path.join(a.root, locationOf(a, NAMES[1]!));
  const stored = readFileSync(damaged);
  stored[stored.length >> 1] ^= 0xff;
  writeFileSync(damaged, stored);

  const session = sessionOf(a, a.store);
  t.ok((await session.fetch(NAMES[0]!))?.equals(a.files.get(NAMES[0]!)!), 'the file before the damaged one served');
  const err = await session.fetch(NAMES[1]!).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  t.match(err, { ...ofKind('INTEGRITY'), message: new RegExp(`archived WAL segment ${NAMES[1]}`) }, 'INTEGRITY, naming the damaged file');
  t.equal(session.failure, err, 'the session keeps the failure');
  // Already rejected when the fetch rejects: settled before the next turn of the event loop.
  const settled = await Promise.race([session.failed.catch((e: unknown) => e), new Promise((r) => setImmediate(() => r('still pending')))]);
  t.equal(settled, err, '`failed` has rejected with it (which stops the restore)');
  t.equal(await session.fetch(NAMES[2]!).catch((e: unknown) => e), err, 'a later fetch rethrows it');
  t.equal(await session.fetch(NAMES[0]!).catch((e: unknown) => e), err, 'even of a file that was served before');
  t.equal(session.served, 1, 'nothing served after the damaged file');
});

t.test("once the restore's signal is aborted no fetch ahead starts (a recording wrapper around the real store: it records open() and delegates, changing nothing)", async (t) => {
  const a = await archived(t);
  const [, second, third] = NAMES.map((n) => locationOf(a, n));

  t.test('aborted while replaying', async (t) => {
    const store = recording(a.store);
    const restore = new AbortController();
    const session = sessionOf(a, store, restore.signal);
    t.ok((await session.fetch(NAMES[0]!))?.equals(a.files.get(NAMES[0]!)!), 'the first file served');
    await waitFor('the second file opened ahead of its request', async () => opens(store, second!) > 0, 20_000);
    restore.abort(new Error('the restore was cancelled'));
    // Served from the fetch ahead if it had finished, or refused as aborted.
    await session.fetch(NAMES[1]!).catch(() => undefined);
    t.equal(opens(store, third!), 0, 'the file after it is not fetched ahead');
  });

  t.test('aborted before the first request', async (t) => {
    const store = recording(a.store);
    const session = sessionOf(a, store, AbortSignal.abort(new Error('the restore was cancelled')));
    await t.rejects(session.fetch(NAMES[0]!), 'the file asked for is refused');
    t.equal(opens(store, second!), 0, 'the file after it is not fetched ahead');
  });
});
