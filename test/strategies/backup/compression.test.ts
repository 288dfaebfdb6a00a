import t from 'tap';
import { pipeline } from 'node:stream/promises';
import { CommandError } from '../../../lib/process-runner.js';
import { createCompressor, createDecompressor, parseCompression, zstdSummary, COMPRESSIONS } from '../../../strategies/backup/compression.js';
import { MemorySink, chunked, makeDeps, mixedData, processGone, sha256 } from './fixtures/streams.js';

t.test('compression names: empty means zstd, unknown is refused with the choices', async (t) => {
  t.equal(parseCompression(''), 'zstd');
  t.equal(parseCompression(undefined), 'zstd');
  t.equal(parseCompression('gzip'), 'gzip');
  t.throws(() => parseCompression('lz4'), { kind: 'INVALID_ARGUMENT', message: /zstd, gzip, none/ });
});

for (const name of COMPRESSIONS) {
  t.test(`${name}: compress then decompress gives the input back`, async (t) => {
    const deps = makeDeps();
    const input = mixedData(3 * 1024 * 1024);
    const packed = new MemorySink();
    const c = createCompressor(name, deps);
    await pipeline(chunked(input), c.stream, packed);
    await c.exited;
    if (name === 'zstd') t.equal(packed.data.subarray(0, 4).toString('hex'), '28b52ffd', 'a zstd frame');
    if (name === 'gzip') t.equal(packed.data.subarray(0, 2).toString('hex'), '1f8b', 'a gzip stream');
    const out = new MemorySink();
    const d = createDecompressor(name, deps);
    await pipeline(chunked(packed.data), d.stream, out);
    t.equal(sha256(out.data), sha256(input));
    for (const child of deps.runner.spawned) t.ok(processGone(child.pid), 'zstd exited and was reaped');
  });
}

t.test('zstd refusing its input fails the stream with zstd\'s stderr', async (t) => {
  const deps = makeDeps();
  const d = createDecompressor('zstd', deps);
  const err = await pipeline(chunked(Buffer.from('this is not zstd data at all'.repeat(1000))), d.stream, new MemorySink()).catch(
    (e: unknown) => e,
  );
  t.type(err, CommandError);
  t.match((err as Error).message, /^zstd exited with code 1: zstd: .*unsupported format/);
});

t.test("zstd -vv's closing line gives exact byte counts, padded or not", async (t) => {
  t.same(zstdSummary('/*stdin*\\            :  0.08%   (20975841 B =>  16489 B, /*stdout*\\) \n'), { in: 20975841, out: 16489 });
  t.same(zstdSummary('/*stdin*\\            :100.00%   (   123 B =>    140 B, /*stdout*\\) '), { in: 123, out: 140 });
  t.same(zstdSummary('x\n/*stdin*\\           : 100000000 bytes \n')?.out, 100000000);
  t.equal(zstdSummary('/*stdin*\\  :100.00%   (   286 MiB =>    286 MiB, /*stdout*\\)'), undefined, 'human units (-v) are not exact: no count');
});
