// What a user sees when a backup goes wrong: the error that caused it, no
// committed object (the sink is destroyed, never finished) and no compressor
// process left behind.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { CommandError } from '../../../lib/process-runner.js';
import { runBackup } from '../../../strategies/backup/pipeline.js';
import { restoreObject } from './fixtures/restore.js';
import { MemorySink, RecordingRunner, chunked, makeDeps, mixedData, processGone } from './fixtures/streams.js';
import { ofKind } from '../../support/error-kind.js';

const wrappingKey = randomBytes(32);

/** Produces `failAfter` bytes, then fails with `error`. */
function failingSource(failAfter: number, error: Error): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= failAfter) return void this.destroy(error);
      const chunk = randomBytes(64 * 1024);
      sent += chunk.length;
      this.push(chunk);
    },
  });
}

/** Endless data; calls onBytes with the running total. */
function endlessSource(onBytes: (total: number) => void): Readable {
  let sent = 0;
  return new Readable({
    read() {
      const chunk = randomBytes(64 * 1024);
      sent += chunk.length;
      this.push(chunk);
      onBytes(sent);
    },
  });
}

t.test('a source that fails midway rejects the backup with its error and destroys the sink', async (t) => {
  const deps = makeDeps();
  const sink = new MemorySink();
  const boom = new Error('datastore dump failed halfway');
  await t.rejects(runBackup({ source: failingSource(3 * 1024 * 1024, boom), sink, wrappingKey, compression: 'zstd' }, deps), boom);
  t.ok(sink.destroyed, 'sink destroyed (the store removes the partial object)');
  t.notOk(sink.finished, 'sink never finished (nothing committed)');
  const [zstd] = deps.runner.spawned;
  t.ok(zstd && zstd.pid > 0);
  t.ok(processGone(zstd!.pid), 'zstd is gone');
});

t.test('aborting kills the compressor and rejects the backup', async (t) => {
  const deps = makeDeps();
  const sink = new MemorySink();
  const ac = new AbortController();
  const source = endlessSource((total) => {
    if (total >= 8 * 1024 * 1024) ac.abort();
  });
  const err = await runBackup({ source, sink, wrappingKey, compression: 'zstd', signal: ac.signal }, deps).catch((e: unknown) => e);
  t.match(err, ofKind('CANCELLED'));
  const [zstd] = deps.runner.spawned;
  t.ok(zstd && zstd.pid > 0);
  t.ok(processGone(zstd!.pid), `no /proc/${zstd!.pid}: zstd was killed and reaped`);
  t.ok(sink.bytes > 0, 'data was flowing before the abort');
  t.ok(sink.destroyed && !sink.finished, 'sink destroyed, not finished');
  t.ok(source.destroyed, 'source destroyed');
});

t.test('an already aborted signal starts nothing that outlives the call', async (t) => {
  const deps = makeDeps();
  const sink = new MemorySink();
  await t.rejects(
    runBackup({ source: chunked(mixedData(1024 * 1024)), sink, wrappingKey, compression: 'zstd', signal: AbortSignal.abort() }, deps),
    ofKind('CANCELLED'),
  );
  for (const child of deps.runner.spawned) t.ok(processGone(child.pid), 'zstd is gone');
  t.notOk(sink.finished);
});

t.test('a compressor that exits non-zero fails the backup with its stderr', async (t) => {
  // Fault injection: "compress" by decompressing, which zstd refuses for non-zstd input.
  const deps = makeDeps(new RecordingRunner((argv) => (argv[0] === 'zstd' ? ['zstd', '-d', '-c'] : argv)));
  const sink = new MemorySink();
  const err = await runBackup({ source: chunked(mixedData(2 * 1024 * 1024)), sink, wrappingKey, compression: 'zstd' }, deps).catch(
    (e: unknown) => e,
  );
  t.type(err, CommandError);
  t.match((err as CommandError).message, /^zstd exited with code 1: .+/s, 'names the program, its exit code and its stderr');
  t.ok((err as CommandError).stderrTail.length > 0);
  t.ok(sink.destroyed && !sink.finished);
});

t.test('a compressor that cannot start fails the backup', async (t) => {
  const deps = makeDeps(new RecordingRunner(() => ['/nonexistent/zstd']));
  const sink = new MemorySink();
  await t.rejects(runBackup({ source: chunked(mixedData(256 * 1024)), sink, wrappingKey, compression: 'zstd' }, deps), {
    message: /\/nonexistent\/zstd/,
  });
  t.ok(sink.destroyed && !sink.finished);
});

t.test('aborting a restore kills the decompressor and leaves the destination unfinished', async (t) => {
  const deps = makeDeps();
  const sink = new MemorySink();
  const backup = await runBackup({ source: chunked(mixedData(16 * 1024 * 1024)), sink, wrappingKey, compression: 'zstd' }, deps);
  const ac = new AbortController();
  const out = new MemorySink();
  let opened = 0;
  const restore = restoreObject(
    {
      open: () => (opened++, chunked(sink.data)),
      destination: out,
      wrappingKey,
      expected: { sha256: backup.sha256, compression: 'zstd' },
      signal: ac.signal,
      progressIntervalMs: 0,
      onProgress: (p) => {
        if (p.phase === 'restore' && p.bytesDone > 1024 * 1024) ac.abort();
      },
    },
    deps,
  );
  await t.rejects(restore, ofKind('CANCELLED'));
  t.equal(opened, 2, 'it was aborted in the restore pass');
  const decompressor = deps.runner.spawned.at(-1)!;
  t.same(decompressor.argv.slice(0, 2), ['zstd', '-d']);
  t.ok(processGone(decompressor.pid), 'zstd -d is gone');
  t.ok(out.destroyed && !out.finished);
});
