// The Swift store against a real Swift (the loopback SAIO): SLO segments
// uploaded in parallel, a segment cut off midway and retried, metadata on the manifest, delete of segments, cleanup after a failed or
// cancelled upload, a proxy that goes away mid-upload, and ETag checks.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { createLogger } from '../../../lib/logger.js';
import { SwiftStorage, type SwiftStorageOptions } from '../../../strategies/storage/swift.js';
import { startExtraProxy, startSwift, SwiftProbe } from '../../support/swift.js';
import { bytes, MiB, readAll, rejection, sha256, thrown, upload, write } from './fixtures/bytes.js';

const saio = await startSwift(t);
const probe = new SwiftProbe(saio);
const tempauth = { kind: 'tempauth', authUrl: saio.authUrl, user: saio.user, key: saio.key } as const;
// Fast retries keep failure tests short; the policy is the same code path.
const quickRetry = { attempts: 3, baseDelayMs: 20, maxDelayMs: 100 };

/** A store on a fresh container, so tests do not see each other's objects. */
function store(extra: Partial<SwiftStorageOptions> = {}): { s: SwiftStorage; container: string; segments: string } {
  const container = `backups-${randomBytes(4).toString('hex')}`;
  const s = new SwiftStorage({ auth: tempauth, container, segmentSize: MiB, retry: quickRetry, ...extra });
  return { s, container, segments: `${container}_segments` };
}

/**
 * A fault-injecting fetch: passes every request to the real fetch (and so to
 * the real Swift), then lets `alter` change the response of the requests it
 * picks. Used only where real Swift cannot produce the fault (a wrong ETag,
 * a 503 on one chosen segment).
 */
function faultInjectingFetch(alter: (url: URL, init: RequestInit | undefined, res: () => Promise<Response>) => Promise<Response>): typeof fetch {
  return ((input: URL | string, init?: RequestInit) => alter(new URL(String(input)), init, () => fetch(input, init))) as typeof fetch;
}

const isSegmentPut = (url: URL, init: RequestInit | undefined, n: number): boolean =>
  init?.method === 'PUT' && url.pathname.endsWith(`/${String(n).padStart(8, '0')}`);

/**
 * The request sent to the real Swift with its body cut off halfway: the
 * first half goes out, then the body stream fails, as a connection reset
 * mid-PUT would (fault injection: a real Swift cannot be made to drop one
 * chosen segment's connection).
 */
function cutMidway(init: RequestInit | undefined): RequestInit {
  const reader = (init!.body as ReadableStream<Uint8Array>).getReader();
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      const { value } = await reader.read();
      controller.enqueue(value!.subarray(0, value!.length >> 1));
      setImmediate(() => controller.error(new Error('connection reset midway (injected)')));
    },
  });
  return { ...init, body } as RequestInit;
}

t.test('a 3.5 MiB object in 1 MiB SLO segments round-trips with its metadata', async (t) => {
  const { s, container, segments } = store();
  const data = bytes(3.5 * MiB);
  const metadata = { 'backup-id': 'b-42', 'parent-id': 'b-41', datastore: 'mariadb' };
  const saved = await upload(s.save('inst-a/b-42.xbstream.zst.enc', { metadata }), data);

  t.same(saved, { storage: 'swift', location: `${container}/inst-a/b-42.xbstream.zst.enc`, size: data.length, sha256: sha256(data) });
  t.equal((await probe.list(segments, 'inst-a/b-42.xbstream.zst.enc/')).length, 4, 'stored as 4 segments');

  const manifest = await probe.head(saved.location);
  t.equal(manifest?.get('x-static-large-object'), 'True', 'the object is a Static Large Object');
  t.equal(manifest?.get('x-object-meta-backup-id'), 'b-42', 'metadata headers are on the manifest');
  t.equal(manifest?.get('x-object-meta-parent-id'), 'b-41');
  t.equal(manifest?.get('x-object-meta-datastore'), 'mariadb');

  const opened = await s.open(saved.location);
  t.equal(opened.size, data.length);
  t.same(opened.metadata, metadata);
  t.equal(sha256(await readAll(opened.stream)), sha256(data), 'downloaded bytes have the same sha256');
  t.same(await s.stat(saved.location), { size: data.length, metadata });
});

t.test('an object smaller than a segment is one plain object; an empty one works too', async (t) => {
  const { s, segments } = store();
  const small = bytes(1000);
  const saved = await upload(s.save('i/small', { metadata: { kind: 'small' } }), small);
  t.equal((await probe.head(saved.location))?.get('x-static-large-object'), null, 'not an SLO');
  t.same(await probe.list(segments, 'i/small/'), []);
  t.equal(sha256(await readAll((await s.open(saved.location)).stream)), sha256(small));
  t.same((await s.stat(saved.location)).metadata, { kind: 'small' });

  const empty = await upload(s.save('i/empty', { metadata: {} }), Buffer.alloc(0));
  t.equal(empty.size, 0);
  t.equal((await s.stat(empty.location)).size, 0);
});

t.test('delete removes the manifest and all its segments; deleting again is fine', async (t) => {
  const { s, segments } = store();
  const saved = await upload(s.save('inst/del.bin', { metadata: { a: 'b' } }), bytes(2.5 * MiB));
  t.equal((await probe.list(segments, 'inst/del.bin/')).length, 3);
  await s.delete(saved.location);
  t.same(await probe.list(segments, 'inst/del.bin/'), [], 'no segment left');
  t.equal(await probe.head(saved.location), null, 'no manifest left');
  t.equal((await rejection(s.stat(saved.location))).kind, 'NOT_FOUND');
  await s.delete(saved.location);

  const plain = await upload(s.save('inst/plain.bin', { metadata: {} }), bytes(10));
  await s.delete(plain.location);
  t.equal(await probe.head(plain.location), null, 'a plain object is deleted too');
});

t.test('token auth (storage URL + token) works', async (t) => {
  const { s } = store({ auth: { kind: 'token', storageUrl: saio.storageUrl, token: await probe.token } });
  const data = bytes(1.5 * MiB);
  const saved = await upload(s.save('tok/x', { metadata: {} }), data);
  t.equal(sha256(await readAll((await s.open(saved.location)).stream)), sha256(data));
});

t.test('a wrong key fails with a clear error that does not contain the key', async (t) => {
  const secret = 'wrong-key-7f3a9c';
  const { s } = store({ auth: { ...tempauth, key: secret } });
  const sink = s.save('i/x', { metadata: {} });
  sink.stream.end(bytes(10));
  const err = await rejection(sink.done);
  t.equal(err.kind, 'STORAGE');
  t.match(err.message, /swift: authentication as test:tester at .* failed: 401/);
  t.notMatch(err.message, secret);
});

t.test('a sink destroyed mid-upload leaves no object and no segments', async (t) => {
  const { s, container, segments } = store({ concurrency: 1 });
  const sink = s.save('inst/cancelled.bin', { metadata: { a: 'b' } });
  for (let i = 0; i < 5; i++) await write(sink.stream, bytes(MiB / 2));
  t.equal((await probe.list(segments, 'inst/cancelled.bin/')).length, 2, 'two segments were uploaded');
  sink.stream.destroy(new Error('backup tool crashed'));
  const err = await rejection(sink.done);
  t.match(err.message, /backup tool crashed/);
  t.same(await probe.list(segments, 'inst/cancelled.bin/'), [], 'segments removed');
  t.equal(await probe.head(`${container}/inst/cancelled.bin`), null, 'no object');
});

t.test('a proxy that goes away mid-upload (real proxy stopped): clear error naming what is left behind', async (t) => {
  const extra = await startExtraProxy(t, saio);
  const { s, container, segments } = store({ auth: { ...tempauth, authUrl: extra.authUrl }, concurrency: 1 });
  const sink = s.save('inst/outage.bin', { metadata: {} });
  await write(sink.stream, bytes(1.5 * MiB));
  const uploaded = await probe.list(segments, 'inst/outage.bin/');
  t.equal(uploaded.length, 1, 'segment 1 uploaded before the outage');

  await extra.stop();
  sink.stream.end(bytes(MiB));
  const err = await rejection(sink.done);
  t.equal(err.kind, 'STORAGE');
  t.match(err.message, `swift: PUT segment 2 of ${container}/inst/outage.bin failed`);
  t.match(err.message, /ECONNREFUSED/);
  t.match(err.message, /after 3 attempts/);
  // Cleanup cannot reach the store either, so the error reports what is left.
  t.match(err.message, /cleanup .* failed too/);
  t.match(err.message, `${segments}/${uploaded[0]}`, 'the leftover segment is named');
  t.notMatch(err.message, saio.key);
  t.notMatch(err.message, await probe.token);
  t.same(await probe.list(segments, 'inst/outage.bin/'), uploaded, 'the report is accurate');
  t.equal(await probe.head(`${container}/inst/outage.bin`), null, 'no object was committed');
  await probe.delete(`${segments}/${uploaded[0]}`);
});

t.test('segment PUTs are retried on 503 (fault-injecting fetch in front of real Swift)', async (t) => {
  let failures = 0;
  const logLines: string[] = [];
  const { s } = store({
    logger: createLogger({ level: 'warn', destination: { write: (line: string) => void logLines.push(line) } }),
    fetch: faultInjectingFetch(async (url, init, res) => {
      if (isSegmentPut(url, init, 2) && failures < 2) {
        failures++;
        return new Response('try later', { status: 503, statusText: 'Service Unavailable' });
      }
      return res();
    }),
  });
  const data = bytes(2.5 * MiB);
  const saved = await upload(s.save('inst/retry.bin', { metadata: {} }), data);
  t.equal(failures, 2, 'segment 2 failed twice before it went through');
  t.equal(logLines.length, 2, 'each retry is logged');
  t.match(logLines[0], /swift: PUT segment 2 of .*: retrying/);
  t.notMatch(logLines.join('\n'), await probe.token, 'the token is not logged');
  t.notMatch(logLines.join('\n'), saio.key, 'the key is not logged');
  t.equal(sha256(await readAll((await s.open(saved.location)).stream)), sha256(data));
});

t.test('segments go up 3 at a time, never more; one cut off midway is retried; the object reads back in order', async (t) => {
  let inFlight = 0;
  let most = 0;
  let cut = 0;
  const { s, container, segments } = store({
    concurrency: 3,
    // Counts segment PUTs in flight; cuts segment 4's first attempt off midway (fault injection).
    fetch: faultInjectingFetch(async (url, init, res) => {
      if (init?.method !== 'PUT' || !url.pathname.includes('/slo/')) return res();
      inFlight++;
      most = Math.max(most, inFlight);
      try {
        if (isSegmentPut(url, init, 4) && cut++ === 0) return await fetch(url, cutMidway(init));
        return await res();
      } finally {
        inFlight--;
      }
    }),
  });
  const data = bytes(7.5 * MiB);
  const saved = await upload(s.save('inst/par.bin', { metadata: { k: 'v' } }), data);
  t.equal(most, 3, 'three segment PUTs were in flight at once, never more');
  t.equal(cut, 2, 'segment 4 was cut off once, then sent again');
  t.equal((await probe.list(segments, 'inst/par.bin/')).length, 8, 'exactly 8 segments stored: the cut attempt left nothing');
  t.equal(sha256(await readAll((await s.open(saved.location)).stream)), sha256(data), 'the object reads back whole and in order');
  t.equal((await probe.head(`${container}/inst/par.bin`))?.get('x-object-meta-k'), 'v');
});

t.test('a segment cut off midway on every attempt fails the upload; the segments in flight and done are removed (fault-injecting fetch)', async (t) => {
  let attempts = 0;
  const { s, container, segments } = store({
    concurrency: 3,
    fetch: faultInjectingFetch(async (url, init, res) => {
      if (!isSegmentPut(url, init, 3)) return res();
      attempts++;
      return fetch(url, cutMidway(init));
    }),
  });
  const sink = s.save('inst/x', { metadata: {} });
  const err = await rejection(upload(sink, bytes(5.5 * MiB)));
  t.equal(err.kind, 'STORAGE');
  t.match(err.message, `swift: PUT segment 3 of ${container}/inst/x failed`);
  t.match(err.message, /after 3 attempts/);
  t.equal(attempts, 3, 'segment 3 was tried 3 times (quickRetry.attempts)');
  t.same(await probe.list(segments, 'inst/x/'), [], 'no segment is left');
  t.equal(await probe.head(`${container}/inst/x`), null, 'no object is visible');
});

t.test('a segment that keeps failing with 503 fails the upload and its segments are removed (fault-injecting fetch)', async (t) => {
  const { s, container, segments } = store({
    concurrency: 1,
    fetch: faultInjectingFetch(async (url, init, res) =>
      isSegmentPut(url, init, 3) ? new Response('down', { status: 503, statusText: 'Service Unavailable' }) : res(),
    ),
  });
  const sink = s.save('inst/x', { metadata: {} });
  const err = await rejection(upload(sink, bytes(3.5 * MiB)));
  t.match(err.message, `swift: PUT segment 3 of ${container}/inst/x failed: 503 Service Unavailable: down (after 3 attempts)`);
  t.same(await probe.list(segments, 'inst/x/'), [], 'segments 1 and 2 removed');
  t.equal(await probe.head(`${container}/inst/x`), null);
  t.throws(() => new SwiftStorage({ auth: tempauth, container: 'c', concurrency: 0 }), /swift concurrency must be an integer from 1 to 64, got 0/);
});

t.test('a flipped or truncated segment ETag is an integrity error (fault-injecting fetch)', async (t) => {
  const tamperings: [string, (etag: string) => string][] = [
    ['flipped', (e) => (e[0] === 'a' ? 'b' : 'a') + e.slice(1)],
    ['truncated', (e) => e.slice(0, 16)],
  ];
  for (const [how, tamper] of tamperings) {
    const { s, container, segments } = store({
      fetch: faultInjectingFetch(async (url, init, res) => {
        const real = await res();
        if (!isSegmentPut(url, init, 2)) return real;
        const headers = new Headers(real.headers);
        headers.set('etag', tamper(real.headers.get('etag') ?? ''));
        return new Response(real.body, { status: real.status, statusText: real.statusText, headers });
      }),
    });
    const err = await rejection(upload(s.save(`inst/${how}`, { metadata: {} }), bytes(2.5 * MiB)));
    t.equal(err.kind, 'INTEGRITY', `${how} ETag detected`);
    t.match(err.message, `swift: PUT segment 2 of ${container}/inst/${how} failed: server ETag`);
    t.same(await probe.list(segments, `inst/${how}/`), [], 'the segments, the bad one included, are removed');
    t.equal(await probe.head(`${container}/inst/${how}`), null, 'no manifest');
  }
});

t.test('hostile keys, locations and metadata are refused before anything is sent', async (t) => {
  const { s, container } = store();
  for (const key of ['../x', '/abs/olute', 'a/../../b', 'new\nline', 'a//b']) {
    t.equal(thrown(() => s.save(key, { metadata: {} })).kind, 'INVALID_ARGUMENT', `key ${JSON.stringify(key)}`);
  }
  const injected = thrown(() => s.save('i/x', { metadata: { note: 'x\r\nX-Object-Meta-Evil: 1' } }));
  t.equal(injected.kind, 'INVALID_ARGUMENT');
  t.match(injected.message, /metadata note value/);
  for (const location of ['no-slash', `${container}/../x`, '/x']) {
    t.equal((await rejection(s.open(location))).kind, 'INVALID_ARGUMENT', `location ${JSON.stringify(location)}`);
  }
  t.same(await probe.list(container), [], 'nothing was created');
});

t.test('removeAbandoned removes the segments of uploads nobody finishes, not those of committed objects', async (t) => {
  const { s, segments } = store({ concurrency: 1 });
  const kept = await upload(s.save('inst/kept.backup', { metadata: {} }), bytes(3.5 * MiB));
  const before = Date.now() - 1;
  // A sink that is neither ended nor destroyed: what a killed process leaves.
  const hung = s.save('inst/hung.backup', { metadata: {} });
  await write(hung.stream, bytes(3 * MiB));
  t.teardown(() => hung.stream.destroy());
  t.equal((await probe.list(segments, 'inst/hung.backup/')).length, 3, 'the hung upload has 3 segments');

  t.same(await s.removeAbandoned('inst/', { startedBefore: before }), [], 'uploads started after the cutoff are kept');
  // Another store object, as an agent started again would have.
  const again = new SwiftStorage({ auth: tempauth, container: kept.location.split('/')[0]!, segmentSize: MiB, retry: quickRetry });
  const removed = await again.removeAbandoned('inst/');
  t.equal(removed.length, 3, 'its 3 segments were removed');
  t.same(await probe.list(segments, 'inst/hung.backup/'), [], 'none is left');
  t.equal((await probe.list(segments, 'inst/kept.backup/')).length, 4, 'the committed object keeps its 4 segments');
  t.equal((await readAll((await s.open(kept.location)).stream)).length, 3.5 * MiB, 'and reads whole');
  t.same(await again.removeAbandoned('nobody/'), [], 'a prefix with nothing under it is fine');
});
