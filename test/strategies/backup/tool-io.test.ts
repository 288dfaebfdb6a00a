// The one tool-streaming helper every datastore's drivers use: a tool whose
// stdout is the backup, and a tool fed a restore. What a user must see is
// the same for every datastore: a cancel ends with CANCELLED and leaves no
// process behind, even a tool that does not stop on SIGTERM; a tool that
// fails is reported by its own exit status and stderr.
import path from 'node:path';
import t from 'tap';
import { ofKind } from '../../support/error-kind.js';
import { spawnToolSource, feedTool } from '../../../strategies/backup/tool-io.js';
import { RecordingRunner, chunked, mixedData, processGone } from './fixtures/streams.js';

const IGNORES_TERM = [process.execPath, path.join(import.meta.dirname, 'fixtures', 'ignores-term.mjs')];
const EMIT = path.join(import.meta.dirname, '..', '..', 'lib', 'fixtures', 'emit.mjs');

/** Resolves once the condition holds; fails the test after a generous deadline. */
async function until(what: string, cond: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test('cancel: a tool that ignores SIGTERM (injected: traps TERM) is killed with SIGKILL after the kill timeout', async (t) => {
  const runner = new RecordingRunner();
  const ac = new AbortController();
  const source = spawnToolSource(runner, IGNORES_TERM, { signal: ac.signal, killAfterMs: 300 });
  await until('the tool to start', () => source.child.outputTail().includes('started'));
  ac.abort(new Error('the client went away'));
  await t.rejects(source.done, ofKind('CANCELLED'), 'the backup ends CANCELLED');
  const exit = await source.child.exited;
  t.equal(exit.signal, 'SIGKILL', 'SIGTERM was not enough; SIGKILL ended it');
  t.match(source.child.outputTail(), /ignoring SIGTERM/, 'it was asked with SIGTERM first');
  for (const c of runner.spawned) t.ok(processGone(c.pid), `pid ${c.pid} is gone`);
});

t.test('a reader that goes away stops the tool, escalating to SIGKILL (injected: traps TERM)', async (t) => {
  const runner = new RecordingRunner();
  const source = spawnToolSource(runner, IGNORES_TERM, { signal: new AbortController().signal, killAfterMs: 300 });
  await until('the tool to start', () => source.child.outputTail().includes('started'));
  source.stream.destroy();
  await t.rejects(source.done, { ...ofKind('CANCELLED'), message: /closed before the tool finished/ });
  t.equal((await source.child.exited).signal, 'SIGKILL');
  for (const c of runner.spawned) t.ok(processGone(c.pid), `pid ${c.pid} is gone`);
});

t.test('a tool that exits non-zero after its output: its own exit status and stderr, through the stream and done', async (t) => {
  const runner = new RecordingRunner();
  const source = spawnToolSource(runner, [process.execPath, EMIT, String(2 * 1024 * 1024), '5', 'pg_dump: connection lost'], { signal: new AbortController().signal });
  const read = (async () => {
    for await (const _ of source.stream) void _;
  })();
  await t.rejects(read, { ...ofKind('DATASTORE'), message: /exited with code 5: pg_dump: connection lost/ }, 'the stream fails, it does not end');
  await t.rejects(source.done, { ...ofKind('DATASTORE'), message: /exited with code 5: pg_dump: connection lost/ });
  for (const c of runner.spawned) t.ok(processGone(c.pid), `pid ${c.pid} is gone`);
});

t.test('cancel while a tool is fed: CANCELLED, the input stops, no process left (injected: traps TERM)', async (t) => {
  const runner = new RecordingRunner();
  const ac = new AbortController();
  const input = chunked(mixedData(64 * 1024 * 1024));
  const fed = feedTool(runner, IGNORES_TERM, input, ac.signal, { killAfterMs: 300 });
  await until('the tool to start', () => runner.spawned[0]?.outputTail().includes('started') ?? false);
  ac.abort(new Error('cancelled by the operator'));
  await t.rejects(fed, ofKind('CANCELLED'));
  t.ok(input.destroyed, 'the input was stopped');
  t.equal((await runner.spawned[0]!.exited).signal, 'SIGKILL');
  for (const c of runner.spawned) t.ok(processGone(c.pid), `pid ${c.pid} is gone`);
});

t.test('what a tool wrote last is seen before its metadata is taken, however late the reader comes (a dump read after the tool exited)', async (t) => {
  const runner = new RecordingRunner();
  let seen = '';
  // 80 KiB: more than the reading side buffers before anyone reads (the
  // filter's 32 KiB), less than the tool can write before it must wait.
  const filler = 'x'.repeat(80 * 1024);
  const source = spawnToolSource(runner, ['printf', '%s\\n%s', filler, '-- GTID 0-1-42'], {
    signal: new AbortController().signal,
    onChunk: (chunk) => {
      seen += chunk.toString('utf8');
    },
    finish: async () => ({ gtidPosition: /GTID (\S+)/.exec(seen)?.[1] ?? '' }),
    trailer: Buffer.from('\n-- trailer\n'),
  });
  // The tool is gone before anyone reads: the dump's end waits in buffers.
  t.equal((await source.child.exited).code, 0, 'the tool exited');
  let text = '';
  for await (const chunk of source.stream) text += (chunk as Buffer).toString('utf8');
  t.equal(text, `${filler}\n-- GTID 0-1-42\n-- trailer\n`, 'the stream carries the dump and then the trailer');
  t.equal((await source.done).gtidPosition, '0-1-42', 'the metadata was taken from the whole dump');
});
