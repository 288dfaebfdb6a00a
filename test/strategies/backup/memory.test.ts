// Memory stays bounded however large the backup: 1 GiB generated on the fly
// goes through zstd, encryption and hashing into a sink that discards it,
// and this process's memory must not grow with it. This bounds memory; it
// asserts nothing about time (throughput belongs in test/bench/).
import t from 'tap';
import { randomBytes, randomFillSync } from 'node:crypto';
import { Readable } from 'node:stream';
import { runBackup } from '../../../strategies/backup/pipeline.js';
import { CountingSink, chunked, makeDeps, mixedData } from './fixtures/streams.js';

const TOTAL = 1024 * 1024 * 1024;
const CHUNK = 256 * 1024;
const MiB = 1024 * 1024;
// Live, the pipeline holds about 6 frames plus pipe and stream buffers: ~7 MiB
// with 1 MiB frames (see strategies/backup/pipeline.ts; measured 10-20 MiB
// live after a forced GC, the test's own source chunks included). The peaks
// sampled here also count garbage V8 has not collected yet, and V8 lets
// external (Buffer) memory grow by up to 64 MiB before it forces a GC; hence
// the headroom. Missing backpressure or a leak grows with the 1 GiB pushed
// through (hundreds of MiB) and fails these.
const RSS_BOUND = 160 * MiB;
const ARRAY_BUFFERS_BOUND = 128 * MiB;

interface Peak {
  rss: number;
  arrayBuffers: number;
}

/** Alternating random and repetitive chunks, generated as they are read; samples memory as it goes. */
function generated(total: number, peak: Peak): Readable {
  let sent = 0;
  let n = 0;
  return new Readable({
    highWaterMark: CHUNK,
    read() {
      if (sent >= total) return void this.push(null);
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK, total - sent));
      if (n % 2 === 0) randomFillSync(chunk);
      else chunk.fill(`block ${n}: the same words again and again `);
      sent += chunk.length;
      if (++n % 8 === 0) {
        const m = process.memoryUsage();
        peak.rss = Math.max(peak.rss, m.rss);
        peak.arrayBuffers = Math.max(peak.arrayBuffers, m.arrayBuffers);
      }
      this.push(chunk);
    },
  });
}

t.test('1 GiB through zstd + encryption keeps memory bounded', async (t) => {
  const deps = makeDeps();
  const wrappingKey = randomBytes(32);
  // Warm up, so one-time allocations (code, crypto contexts) are not counted as growth.
  await runBackup({ source: chunked(mixedData(16 * MiB)), sink: new CountingSink(), wrappingKey, compression: 'zstd' }, deps);
  const before = process.memoryUsage();
  const peak: Peak = { rss: before.rss, arrayBuffers: before.arrayBuffers };
  const sink = new CountingSink();
  const result = await runBackup({ source: generated(TOTAL, peak), sink, wrappingKey, compression: 'zstd' }, deps);
  t.equal(result.rawBytes, TOTAL, 'all of it went through');
  t.equal(result.storedBytes, sink.bytes);
  const rssGrowth = peak.rss - before.rss;
  const abGrowth = peak.arrayBuffers - before.arrayBuffers;
  t.comment(`peak growth: rss ${(rssGrowth / MiB).toFixed(1)} MiB, arrayBuffers ${(abGrowth / MiB).toFixed(1)} MiB`);
  t.ok(rssGrowth < RSS_BOUND, `rss grew ${(rssGrowth / MiB).toFixed(1)} MiB < ${RSS_BOUND / MiB} MiB`);
  t.ok(abGrowth < ARRAY_BUFFERS_BOUND, `arrayBuffers grew ${(abGrowth / MiB).toFixed(1)} MiB < ${ARRAY_BUFFERS_BOUND / MiB} MiB`);
});
