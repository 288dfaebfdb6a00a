// The S3 store against a real S3 API: Swift's s3api on the loopback SAIO.
// Multipart uploads with parallel parts, x-amz-meta-* metadata, abort of the
// multipart upload when the sink is destroyed or the endpoint goes away.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import {
  CreateBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { S3Storage, type S3StorageOptions } from '../../../strategies/storage/s3.js';
import { createS3Client } from '../../../strategies/storage/s3-client.js';
import { S3MultipartUpload } from '../../../strategies/storage/s3-upload.js';
import { createObjectSink } from '../../../strategies/storage/object-sink.js';
import { startExtraProxy, startSwift, SwiftProbe } from '../../support/swift.js';
import { Readable } from 'node:stream';
import { bytes, MiB, readAll, rejection, sha256, thrown, upload, write } from './fixtures/bytes.js';

const saio = await startSwift(t);
const probe = new SwiftProbe(saio);
const PART = 5 * MiB; // the S3 minimum, which s3api enforces too

const clientFor = (endpoint: string, maxAttempts = 2): S3Client =>
  createS3Client({
    endpoint,
    region: saio.s3Region,
    forcePathStyle: true,
    credentials: { accessKeyId: saio.s3AccessKey, secretAccessKey: saio.s3SecretKey },
    maxAttempts,
  });
const client = clientFor(saio.s3Endpoint);

/** A store on a fresh bucket. */
async function store(extra: Partial<S3StorageOptions> = {}): Promise<{ s: S3Storage; bucket: string }> {
  const bucket = `coffer-${randomBytes(4).toString('hex')}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return { s: new S3Storage({ client, bucket, partSize: PART, ...extra }), bucket };
}

const uploadsOf = async (bucket: string): Promise<{ Key?: string; UploadId?: string }[]> =>
  (await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [];

async function until(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

t.test('a 4-part object uploaded 3 parts at a time round-trips with its metadata', async (t) => {
  const { s, bucket } = await store({ concurrency: 3 });
  const data = bytes(3 * PART + 123_457);
  const metadata = { 'backup-id': 'b-7', datastore: 'postgresql' };
  const saved = await upload(s.save('inst-b/b-7.tar.zst.enc', { metadata }), data, 256 * 1024);

  t.same(saved, { storage: 's3', location: `${bucket}/inst-b/b-7.tar.zst.enc`, size: data.length, sha256: sha256(data) });
  const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'inst-b/b-7.tar.zst.enc' }));
  t.match(head.ETag, /-4"$/, 'stored as a 4-part multipart upload');
  t.same(head.Metadata, metadata, 'x-amz-meta-* headers are on the object');
  t.same(await uploadsOf(bucket), [], 'no multipart upload left open');

  const opened = await s.open(saved.location);
  t.equal(opened.size, data.length);
  t.same(opened.metadata, metadata);
  t.equal(sha256(await readAll(opened.stream)), sha256(data), 'downloaded bytes have the same sha256');
  t.same(await s.stat(saved.location), { size: data.length, metadata });
});

t.test('a 7-part upload 2 parts at a time holds at most 2 part buffers, each reused, and stores the right bytes', async (t) => {
  const { s, bucket } = await store();
  const up = new S3MultipartUpload(client, { bucket, key: 'inst/reuse', partSize: PART, concurrency: 2, metadata: {}, checkEtags: true });
  const data = bytes(6 * PART + 4321);
  const saved = await upload(createObjectSink(up, { describe: 'reuse test' }), data, 1024 * 1024);
  t.equal(up.buffersAllocated, 2, 'memory: concurrency x part size, the buffers reused for the later parts');
  const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'inst/reuse' }));
  t.match(head.ETag, /-7"$/, 'a 7-part multipart upload: the Content-MD5 and payload sha256 of every part accepted');
  t.equal(sha256(await readAll((await s.open(saved.location)).stream)), sha256(data), 'no part was overwritten by the next one');
});

t.test('an object smaller than a part is a single PutObject with its metadata', async (t) => {
  const { s } = await store();
  const data = bytes(100_000);
  const saved = await upload(s.save('i/small', { metadata: { kind: 'small' } }), data);
  t.same(await s.stat(saved.location), { size: data.length, metadata: { kind: 'small' } });
  t.equal(sha256(await readAll((await s.open(saved.location)).stream)), sha256(data));
});

t.test('delete removes the object and its parts', async (t) => {
  const { s, bucket } = await store();
  const saved = await upload(s.save('inst/del', { metadata: {} }), bytes(PART + 10));
  // s3api keeps the parts of a completed upload in "<bucket>+segments".
  t.ok((await probe.list(`${bucket}+segments`)).length > 0, 'parts exist before delete');
  await s.delete(saved.location);
  t.equal((await rejection(s.stat(saved.location))).kind, 'NOT_FOUND');
  t.same(await probe.list(`${bucket}+segments`), [], 'parts removed');
  await s.delete(saved.location);
});

t.test('a sink destroyed mid-upload aborts the multipart upload and leaves no object', async (t) => {
  const { s, bucket } = await store({ concurrency: 1 });
  const sink = s.save('inst/cancelled', { metadata: {} });
  await write(sink.stream, bytes(PART));
  await write(sink.stream, bytes(PART));
  t.equal((await uploadsOf(bucket)).length, 1, 'a multipart upload is open');
  sink.stream.destroy(new Error('pg_basebackup exited with code 1'));
  t.match((await rejection(sink.done)).message, /pg_basebackup exited with code 1/);
  t.same(await uploadsOf(bucket), [], 'ListMultipartUploads is empty');
  t.equal((await rejection(s.stat(`${bucket}/inst/cancelled`))).kind, 'NOT_FOUND');
  t.same(await probe.list(`${bucket}+segments`), [], 'no parts left');
});

t.test('an endpoint that goes away mid-upload (real proxy stopped): clear error naming the open upload', async (t) => {
  const { s, bucket } = await store({ concurrency: 1 });
  const extra = await startExtraProxy(t, saio);
  const viaExtra = new S3Storage({ client: clientFor(extra.url), bucket: bucket, partSize: PART, concurrency: 1 });
  const sink = viaExtra.save('inst/outage', { metadata: {} });
  await write(sink.stream, bytes(PART + 1));
  // write() returns once part 1 is handed to the upload (it goes up in the
  // background); wait until the real store has it, then take the endpoint away.
  await until(async () => {
    const [u] = await uploadsOf(bucket);
    if (!u) return false;
    const parts = await client.send(new ListPartsCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
    return (parts.Parts ?? []).length === 1;
  });
  await extra.stop();
  sink.stream.end(bytes(PART));
  const err = await rejection(sink.done);
  t.equal(err.kind, 'STORAGE');
  t.match(err.message, `s3: UploadPart 2 of ${bucket}/inst/outage failed`);
  t.match(err.message, /ECONNREFUSED/);
  const open = await uploadsOf(bucket);
  t.equal(open.length, 1, 'the upload could not be aborted');
  t.match(err.message, `multipart upload ${open[0]?.UploadId} of ${bucket}/inst/outage was left behind`, 'and the error says which');
  t.notMatch(err.message, saio.s3SecretKey);

  await s.delete(`${bucket}/inst/outage`);
  t.same(await uploadsOf(bucket), [], 'delete() clears the abandoned upload');
});

t.test('a flipped part ETag is an integrity error and the upload is aborted (fault-injecting SDK middleware)', async (t) => {
  const faulty = clientFor(saio.s3Endpoint);
  // Real s3api computes ETags correctly; only a middleware can alter one.
  faulty.middlewareStack.add(
    (next, context) => async (args) => {
      const out = await next(args);
      const output = out.output as { ETag?: string };
      if (context.commandName === 'UploadPartCommand' && (args.input as { PartNumber?: number }).PartNumber === 2 && output.ETag) {
        output.ETag = output.ETag.replace(/[0-9a-f]/, (c) => (c === 'a' ? 'b' : 'a'));
      }
      return out;
    },
    { step: 'initialize', name: 'flipPartEtag' },
  );
  const { s, bucket } = await store();
  const viaFaulty = new S3Storage({ client: faulty, bucket: bucket, partSize: PART, concurrency: 2 });
  const err = await rejection(upload(viaFaulty.save('inst/etag', { metadata: {} }), bytes(3 * PART)));
  t.equal(err.kind, 'INTEGRITY');
  t.match(err.message, `s3: UploadPart 2 of ${bucket}/inst/etag failed: server ETag`);
  t.same(await uploadsOf(bucket), [], 'multipart upload aborted');
  t.equal((await rejection(s.stat(`${bucket}/inst/etag`))).kind, 'NOT_FOUND');
});

/**
 * A client whose UploadPart `part` has its body cut off halfway on the
 * attempts `cut` picks: the first half goes to the real s3api, then the body
 * fails as a connection reset mid-request would. Added inside the client's
 * retry loop, so each attempt is cut or not on its own (fault injection: a
 * real server cannot be made to drop one chosen part's connection).
 */
function cuttingClient(part: number, cut: (attempt: number) => boolean): { client: S3Client; attempts: () => number } {
  const c = clientFor(saio.s3Endpoint, 3);
  let attempts = 0;
  c.middlewareStack.add(
    (next, context) => async (args) => {
      const req = args.request as { body?: unknown };
      if (context.commandName !== 'UploadPartCommand' || (args.input as { PartNumber?: number }).PartNumber !== part) return next(args);
      if (!cut(++attempts)) return next(args);
      const whole = req.body as Buffer;
      // The SDK pipes a stream body into its http.ClientRequest: after half
      // the bytes, that request is destroyed, which resets the connection.
      let sent = false;
      req.body = new Readable({
        read() {
          if (sent) return;
          sent = true;
          this.push(whole.subarray(0, whole.length >> 1));
          setImmediate(() => {
            const pipes = (this as unknown as { _readableState: { pipes: Array<{ destroy(e: Error): void }> } })._readableState.pipes;
            for (const dest of pipes) dest.destroy(new Error('connection reset midway (injected)'));
          });
        },
      });
      try {
        return await next(args);
      } finally {
        req.body = whole;
      }
    },
    { step: 'deserialize', name: 'cutPartMidway', priority: 'low' },
  );
  return { client: c, attempts: () => attempts };
}

t.test('a part cut off midway is retried on its own while the others go up in parallel (fault-injecting middleware)', async (t) => {
  const { bucket } = await store();
  const { client: cutting, attempts } = cuttingClient(2, (n) => n === 1);
  const s = new S3Storage({ client: cutting, bucket, partSize: PART, concurrency: 3 });
  const data = bytes(4 * PART + 1000);
  const saved = await upload(s.save('inst/midway', { metadata: { a: '1' } }), data, 256 * 1024);
  t.equal(attempts(), 2, 'part 2 was cut off once, then sent again');
  const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'inst/midway' }));
  t.match(head.ETag, /-5"$/, 'a 5-part multipart upload');
  t.equal(sha256(await readAll((await s.open(saved.location)).stream)), sha256(data), 'the object reads back whole');
  t.same(await uploadsOf(bucket), [], 'no multipart upload left open');
});

t.test('a part cut off midway on every attempt aborts the multipart upload and leaves no object (fault-injecting middleware)', async (t) => {
  const { bucket } = await store();
  const { client: cutting, attempts } = cuttingClient(3, () => true);
  const s = new S3Storage({ client: cutting, bucket, partSize: PART, concurrency: 2 });
  const err = await rejection(upload(s.save('inst/doomed', { metadata: {} }), bytes(5 * PART), 256 * 1024));
  t.equal(err.kind, 'STORAGE');
  t.match(err.message, `s3: UploadPart 3 of ${bucket}/inst/doomed failed`);
  t.equal(attempts(), 3, 'part 3 was tried 3 times (maxAttempts)');
  t.same(await uploadsOf(bucket), [], 'AbortMultipartUpload: no upload left open');
  t.equal((await rejection(s.stat(`${bucket}/inst/doomed`))).kind, 'NOT_FOUND', 'no object is visible');
  t.same(await probe.list(`${bucket}+segments`), [], 'no parts left');
});

t.test('only what lib/retryable.ts names is retried: a 403 is not, a 503 and no answer are', async (t) => {
  const { isRetryableS3Failure } = await import('../../../strategies/storage/s3-retry.js');
  t.equal(isRetryableS3Failure({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }), false);
  t.equal(isRetryableS3Failure({ name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } }), true);
  t.equal(isRetryableS3Failure({ name: 'RequestTimeout', $metadata: { httpStatusCode: 400 } }), true);
  t.equal(isRetryableS3Failure(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })), true);
});

t.test('hostile keys and metadata are refused before anything is sent', async (t) => {
  const { s, bucket } = await store();
  for (const key of ['../x', '/abs', 'a/./b', 'x\ny']) {
    t.equal(thrown(() => s.save(key, { metadata: {} })).kind, 'INVALID_ARGUMENT', `key ${JSON.stringify(key)}`);
  }
  t.equal(thrown(() => s.save('i/x', { metadata: { note: 'a\nb' } })).kind, 'INVALID_ARGUMENT');
  t.equal((await rejection(s.open(`${bucket}/../etc`))).kind, 'INVALID_ARGUMENT');
  t.same(await uploadsOf(bucket), []);
});

t.test('part size and concurrency are validated', async (t) => {
  t.throws(() => new S3Storage({ client, bucket: 'b', partSize: MiB }), /part size/);
  t.throws(() => new S3Storage({ client, bucket: 'b', concurrency: 0 }), /concurrency/);
});

t.test('removeAbandoned aborts multipart uploads nobody finishes, and leaves committed objects', async (t) => {
  const { s, bucket } = await store({ concurrency: 1 });
  const kept = await upload(s.save('inst/kept.backup', { metadata: {} }), bytes(2 * PART + MiB));
  // A sink that is neither ended nor destroyed: what a killed process leaves.
  const hung = s.save('inst/hung.backup', { metadata: {} });
  await write(hung.stream, bytes(PART + MiB));
  t.teardown(() => hung.stream.destroy());
  await until(async () => (await uploadsOf(bucket)).length === 1);

  // Initiated is the server's clock: a cutoff well before it keeps the upload.
  t.same(await s.removeAbandoned('inst/', { startedBefore: Date.now() - 3_600_000 }), [], 'uploads started after the cutoff are kept');
  const removed = await s.removeAbandoned('inst/hung.backup');
  t.equal(removed.length, 1, `the upload was aborted: ${removed.join(', ')}`);
  t.same(await uploadsOf(bucket), [], 'no multipart upload is left');
  t.ok(await client.send(new HeadObjectCommand({ Bucket: bucket, Key: kept.location.slice(bucket.length + 1) })), 'the committed object stays');
  t.same(await s.removeAbandoned('nobody/'), [], 'a prefix with nothing under it is fine');
});
