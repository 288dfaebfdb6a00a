import t from 'tap';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { COMPRESSIONS } from '../../../strategies/backup/compression.js';
import { keyIdOf } from '../../../strategies/backup/key-wrap.js';
import { runBackup } from '../../../strategies/backup/pipeline.js';
import { restoreObject } from './fixtures/restore.js';
import type { Progress } from '../../../strategies/backup/hash-meter.js';
import { MemorySink, chunked, makeDeps, mixedData, parseFrames, sha256 } from './fixtures/streams.js';

const wrappingKey = randomBytes(32);

for (const compression of COMPRESSIONS) {
  t.test(`${compression}: several MiB round trip restores identical bytes`, async (t) => {
    const deps = makeDeps();
    const input = mixedData(6 * 1024 * 1024 + 12345);
    const sink = new MemorySink();
    const progress: Progress[] = [];
    const result = await runBackup(
      { source: chunked(input), sink, wrappingKey, compression, onProgress: (p) => progress.push(p), progressIntervalMs: 0 },
      deps,
    );
    const stored = sink.data;
    t.ok(sink.finished, 'the sink was finished (committed)');
    t.equal(result.rawBytes, input.length);
    t.equal(result.storedBytes, stored.length);
    t.equal(result.sha256, sha256(stored), 'checksum is the sha256 of the stored bytes');
    t.equal(result.compression, compression);
    t.equal(result.encryption.algorithm, 'aes-256-gcm-framed-v1');
    t.equal(result.encryption.keyId, keyIdOf(wrappingKey));
    t.equal(result.encryption.frameSize, 1024 * 1024);
    t.equal(result.encryption.wrappedKey.length, 40);
    t.notOk(stored.includes(input.subarray(65536, 65536 + 64)), 'stored bytes do not contain the plaintext');
    if (compression !== 'none') t.ok(stored.length < input.length * 0.75, 'the repetitive half was compressed');
    const last = progress.at(-1);
    t.ok(last?.done, 'a final progress report');
    t.equal(last?.rawBytes, input.length);
    t.equal(last?.storedBytes, stored.length);

    const out = new MemorySink();
    const restored = await restoreObject(
      {
        open: () => chunked(stored, 100_003),
        destination: out,
        wrappingKey,
        expected: { sha256: result.sha256, compression, keyId: result.encryption.keyId },
      },
      deps,
    );
    t.ok(out.finished);
    t.equal(sha256(out.data), sha256(input), 'restored bytes equal the source');
    t.equal(restored.rawBytes, input.length);
    t.equal(restored.storedBytes, stored.length);
    for (const child of deps.runner.spawned) t.notOk(child.running, `${child.argv[0]} exited`);
  });
}

t.test('an empty source round-trips as one empty final frame', async (t) => {
  const deps = makeDeps();
  const sink = new MemorySink();
  const result = await runBackup({ source: Readable.from([]), sink, wrappingKey, compression: 'none' }, deps);
  const { frames } = parseFrames(sink.data);
  t.same(frames.map((f) => [f.length, f.final]), [[0, true]]);
  const out = new MemorySink();
  await restoreObject(
    { open: () => chunked(sink.data), destination: out, wrappingKey, expected: { sha256: result.sha256, compression: 'none' } },
    deps,
  );
  t.equal(out.bytes, 0);
  t.ok(out.finished);
});

t.test('frames follow the documented layout; an exact multiple of the frame size ends in a full final frame', async (t) => {
  const deps = makeDeps();
  const sink = new MemorySink();
  const frameSize = 4096;
  // Exactly 3 frames' worth: the last full frame must be the final one, not followed by an empty frame.
  await runBackup({ source: chunked(randomBytes(3 * frameSize), 1000), sink, wrappingKey, compression: 'none', frameSize }, deps);
  const stored = sink.data;
  t.equal(stored.subarray(0, 8).toString('latin1'), 'COFFERBK');
  t.equal(stored.readUInt8(8), 1, 'version');
  t.equal(stored.readUInt32BE(12), frameSize);
  t.equal(stored.subarray(16, 24).toString('hex'), keyIdOf(wrappingKey));
  const { headerLength, frames } = parseFrames(stored);
  t.equal(headerLength, 72);
  t.same(frames.map((f) => [f.length, f.final]), [
    [frameSize, false],
    [frameSize, false],
    [frameSize, true],
  ]);
});
