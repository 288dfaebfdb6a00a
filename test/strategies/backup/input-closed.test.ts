// A program that gives up on its input (zstd on bad data, a restore tool on
// a bad stream) closes its stdin before it has finished saying why. The
// agent sees EPIPE first; what a user must be told is the program's own exit
// status and stderr, not "killed by SIGTERM" from the agent's own cleanup.
// Fault injection: quits-early.mjs stands in for the program, because a real
// zstd exits too fast to make that order certain (CI once saw the race).
import t from 'tap';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { CommandError } from '../../../lib/process-runner.js';
import { CofferError } from '../../../lib/coded-error.js';
import { runBackup } from '../../../strategies/backup/pipeline.js';
import { feedTool } from '../../../strategies/backup/tool-io.js';
import { MemorySink, RecordingRunner, chunked, makeDeps, mixedData, processGone } from './fixtures/streams.js';

const QUITS_EARLY = path.join(import.meta.dirname, '..', '..', 'lib', 'fixtures', 'quits-early.mjs');
const quitsEarly = (delayMs: number, code: number, message: string): string[] => [process.execPath, QUITS_EARLY, String(delayMs), String(code), message];

t.test('compressor (fault injected: closes its input, exits 3 after 300 ms): its exit and stderr are the reason', async (t) => {
  const deps = makeDeps(new RecordingRunner((argv) => (argv[0] === 'zstd' ? quitsEarly(300, 3, 'zstd: stdin is not a zstd frame') : argv)));
  const sink = new MemorySink();
  const err = await runBackup({ source: chunked(mixedData(4 * 1024 * 1024)), sink, wrappingKey: randomBytes(32), compression: 'zstd' }, deps).catch(
    (e: unknown) => e,
  );
  t.type(err, CommandError);
  t.match((err as Error).message, /exited with code 3: zstd: stdin is not a zstd frame/);
  t.ok(sink.destroyed && !sink.finished, 'nothing committed');
  for (const c of deps.runner.spawned) t.ok(processGone(c.pid), 'the program is gone');
});

t.test('tool fed a stream (fault injected: closes its input, exits 4 after 300 ms): DATASTORE with its stderr', async (t) => {
  const runner = new RecordingRunner();
  const err = await feedTool(runner, quitsEarly(300, 4, 'mbstream: bad chunk magic'), chunked(mixedData(8 * 1024 * 1024)), new AbortController().signal, {
    what: 'extracting backup b1',
  }).catch((e: unknown) => e);
  t.type(err, CofferError);
  t.match(err, { kind: 'DATASTORE', message: /^extracting backup b1: .*exited with code 4: mbstream: bad chunk magic$/ });
  for (const c of runner.spawned) t.ok(processGone(c.pid), 'the tool is gone');
});

t.test('a tool that closes its input and then hangs is stopped after the wait, and says so', async (t) => {
  const runner = new RecordingRunner();
  const err = await feedTool(runner, quitsEarly(600_000, 0, ''), chunked(mixedData(8 * 1024 * 1024)), new AbortController().signal, {
    killAfterMs: 200,
  }).catch((e: unknown) => e);
  t.match(err, { kind: 'DATASTORE', message: /was killed by SIGTERM/ });
  for (const c of runner.spawned) t.ok(processGone(c.pid), 'the tool is gone');
});
