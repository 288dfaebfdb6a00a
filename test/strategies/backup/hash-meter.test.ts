import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { HashMeter, ProgressMeter, type Progress } from '../../../strategies/backup/hash-meter.js';
import { CountingSink, chunked } from './fixtures/streams.js';

t.test('HashMeter passes bytes through and reports their sha256 and count', async (t) => {
  const data = randomBytes(300_000);
  const meter = new HashMeter();
  const sink = new CountingSink();
  await pipeline(chunked(data, 7777), meter, sink);
  t.equal(meter.sha256, createHash('sha256').update(data).digest('hex'));
  t.equal(meter.bytes, data.length);
  t.equal(sink.bytes, data.length);
});

t.test('HashMeter with an expected checksum fails the stream on a mismatch', async (t) => {
  const data = randomBytes(10_000);
  const good = createHash('sha256').update(data).digest('hex');
  await pipeline(chunked(data), new HashMeter({ expectedSha256: good.toUpperCase() }), new CountingSink());
  await t.rejects(pipeline(chunked(data), new HashMeter({ expectedSha256: '0'.repeat(64) }), new CountingSink()), {
    kind: 'INTEGRITY',
    message: /checksum mismatch/,
  });
});

t.test('ProgressMeter reports at most once per interval, then a final report', (t) => {
  let now = 0;
  const reports: Progress[] = [];
  const meter = new ProgressMeter({ onProgress: (p) => reports.push(p), intervalMs: 1000, now: () => now });
  // 10 s of 100 chunks per second: 1 MiB/s raw, 0.5 MiB/s stored.
  for (let ms = 10; ms <= 10_000; ms += 10) {
    now = ms;
    meter.addRaw(10_485.76);
    meter.addStored(5_242.88);
  }
  t.equal(reports.length, 10, 'one report per second of fake time');
  for (let i = 1; i < reports.length; i++) t.ok(reports[i]!.elapsedMs - reports[i - 1]!.elapsedMs >= 1000);
  t.ok(reports.every((r) => !r.done));
  meter.finish();
  meter.finish();
  t.equal(reports.length, 11, 'finish reports once');
  const last = reports.at(-1)!;
  t.ok(last.done);
  t.equal(Math.round(last.rawBytes), 10 * 1024 * 1024);
  t.equal(Math.round(last.storedBytes), 5 * 1024 * 1024);
  t.ok(Math.abs(last.rawRate / (1024 * 1024) - 1) < 0.02, `steady raw rate ~1 MiB/s (${last.rawRate})`);
  t.ok(Math.abs(last.storedRate / (512 * 1024) - 1) < 0.02, `steady stored rate ~0.5 MiB/s (${last.storedRate})`);
  t.end();
});

t.test('ProgressMeter smooths the rate: one stalled second does not drop it to zero', (t) => {
  let now = 0;
  const reports: Progress[] = [];
  const meter = new ProgressMeter({ onProgress: (p) => reports.push(p), intervalMs: 1000, halfLifeMs: 5000, now: () => now });
  for (let s = 1; s <= 5; s++) {
    now = s * 1000;
    meter.addRaw(1000);
  }
  now = 7000; // nothing arrived for 2 s; the next chunk is tiny
  meter.addRaw(1);
  const r = reports.at(-1)!;
  t.ok(r.rawRate > 500 && r.rawRate < 1000, `rate eased down, not to ~0 (${r.rawRate.toFixed(0)} B/s)`);
  t.end();
});
