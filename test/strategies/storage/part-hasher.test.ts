// Part digests on a worker thread (part-hasher.ts) and reused part buffers
// (part-pool.ts): the digests are those of the bytes, whether the worker
// computes them or, after it died, the calling thread does.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { PartHasher } from '../../../strategies/storage/part-hasher.js';
import { PartPool } from '../../../strategies/storage/part-pool.js';
import { MiB } from './fixtures/bytes.js';

const expected = (data: Uint8Array): string[] => ['md5', 'sha256'].map((a) => createHash(a).update(data).digest('hex'));
const hex = (digests: Buffer[]): string[] => digests.map((d) => d.toString('hex'));

/** A part in shared memory, as the uploads fill them. */
function sharedPart(pool: PartPool, n = pool.partSize): Buffer {
  const part = pool.take();
  randomBytes(n).copy(part);
  return part.subarray(0, n);
}

t.test('digests of shared parts (hashed on the worker) and of plain buffers (hashed here) are those of their bytes', async (t) => {
  const hasher = new PartHasher({ onFallback: (why) => t.fail(`no fallback expected: ${why}`) });
  const pool = new PartPool(MiB);
  const parts = [sharedPart(pool), sharedPart(pool, 1000), randomBytes(MiB), Buffer.alloc(0)];
  const got = await Promise.all(parts.map((p) => hasher.digest(p, ['md5', 'sha256'])));
  t.same(got.map(hex), parts.map(expected));
  await hasher.close();
  t.same(hex(await hasher.digest(parts[0]!, ['md5', 'sha256'])), expected(parts[0]!), 'after close() digests are computed here');
});

t.test('a hashing thread that dies mid-upload: its parts and later ones are hashed here, the reason is told once (fault injection)', async (t) => {
  // Fault injection: a real hashing thread does not die on demand. This one
  // answers its first part, then exits with code 3 on the second, and one
  // of its kind throws instead.
  const dies = {
    exit: `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
let n = 0;
parentPort.on('message', ({ id, buffer, offset, length, algorithms }) => {
  if (++n === 2) process.exit(3);
  const view = new Uint8Array(buffer, offset, length);
  parentPort.postMessage({ id, digests: algorithms.map((a) => createHash(a).update(view).digest()) });
});`,
    throw: `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', () => { throw new Error('hashing thread broke (injected)'); });`,
  };
  for (const [how, source] of Object.entries(dies)) {
    const reasons: string[] = [];
    const hasher = new PartHasher({ workerSource: source, onFallback: (why) => reasons.push(why) });
    const pool = new PartPool(MiB);
    const first = sharedPart(pool);
    const rest = [sharedPart(pool), sharedPart(pool), sharedPart(pool, 77)];
    t.same(hex(await hasher.digest(first, ['md5'])), expected(first).slice(0, 1), `${how}: a first part`);
    const got = await Promise.all(rest.map((p) => hasher.digest(p, ['md5', 'sha256'])));
    t.same(got.map(hex), rest.map(expected), `${how}: the parts in flight when it died are hashed right`);
    t.same(hex(await hasher.digest(first, ['sha256'])), expected(first).slice(1), `${how}: and a later one`);
    t.equal(reasons.length, 1, `${how}: the fallback is told once`);
    t.match(reasons[0], how === 'exit' ? /the hashing thread exited with code 3/ : /the hashing thread failed: hashing thread broke \(injected\)/);
    await hasher.close();
  }
});

t.test('the pool reuses a given-back buffer and ignores what it did not make', async (t) => {
  const pool = new PartPool(MiB);
  const a = pool.take();
  const b = pool.take();
  pool.give(a.subarray(0, 10)); // the last part is a view on its buffer's start
  pool.give(Buffer.alloc(MiB)); // not the pool's: ignored
  t.equal(pool.take().buffer, a.buffer, 'the given-back buffer is taken again');
  t.not(pool.take().buffer, b.buffer);
  t.equal(pool.allocated, 3);
  t.throws(() => new PartPool(0), /part size must be a positive integer, got 0/);
});
