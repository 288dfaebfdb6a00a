// The pipeline with a program on each end: on backup the source tool's
// stdout goes straight into zstd, on restore zstd's stdout straight into the
// restoring tool (lib/program-output.ts), so only compressed bytes pass
// through the agent. What a user sees must be the same as through the
// agent: exact raw sizes, progress, the tool's own reason when it fails,
// nothing committed after any failure, no process left behind.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { ChildHandle } from '../../../lib/process-runner.js';
import type { TestLike } from '../../support/agent.js';
import { ProgramOutput } from '../../../lib/program-output.js';
import { openRestore, runBackup } from '../../../strategies/backup/pipeline.js';
import { restoreObject } from './fixtures/restore.js';
import type { Progress } from '../../../strategies/backup/hash-meter.js';
import { feedTool } from '../../../strategies/backup/tool-io.js';
import { MemorySink, RecordingRunner, chunked, makeDeps, processGone } from './fixtures/streams.js';
import { ofKind } from '../../support/error-kind.js';

const wrappingKey = randomBytes(32);
const EMIT = path.join(import.meta.dirname, '..', '..', 'lib', 'fixtures', 'emit.mjs');
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function tmp(t: TestLike): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-direct-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A source tool: emit.mjs, with completion = exit 0 (as tool-io's toolSource does). */
function emitSource(runner: RecordingRunner, bytes: number, code = 0, message = ''): ProgramOutput {
  const child = runner.spawn([process.execPath, EMIT, String(bytes), String(code), ...(message ? [message] : [])], { stdout: 'pipe', logOutput: false });
  return new ProgramOutput(child, {
    completion: child.exited.then((e) => {
      if (e.code !== 0) throw new Error(`the tool exited with code ${e.code}: ${child.outputTail()}`);
    }),
    onAbandon: () => void child.stop(1000),
  });
}

/** emit.mjs's bytes, produced once by the real program to a file. */
async function emitted(runner: RecordingRunner, bytes: number, file: string): Promise<Buffer> {
  const src = emitSource(runner, bytes);
  await feedTool(runner, ['dd', `of=${file}`, 'bs=1M', 'status=none'], src, new AbortController().signal);
  return readFileSync(file);
}

const isZstd = (c: ChildHandle): boolean => path.basename(c.argv[0] ?? '') === 'zstd';

t.test('backup: the tool feeds zstd directly; raw size exact, progress reported, restore equal', async (t) => {
  const dir = tmp(t);
  const deps = makeDeps();
  const size = 20 * 1024 * 1024 + 4321;
  const expected = await emitted(deps.runner, size, path.join(dir, 'expected'));

  const source = emitSource(deps.runner, size);
  const sink = new MemorySink();
  const progress: Progress[] = [];
  const r = await runBackup({ source, sink, wrappingKey, compression: 'zstd', onProgress: (p) => progress.push(p), progressIntervalMs: 1 }, deps);
  t.equal(source.child.stdout, null, "the agent gave up its end of the tool's stdout: zstd read it directly");
  const zstd = deps.runner.spawned.filter(isZstd).at(-1)!;
  t.ok(zstd.argv.includes('-vv'), 'zstd runs with the byte-count summary');
  t.equal(r.rawBytes, size, "raw_bytes is zstd's exact count of what the tool wrote");
  t.equal(r.storedBytes, sink.bytes);
  t.equal(r.sha256, sha(sink.data), 'the checksum is of the stored bytes');
  t.ok(progress.length >= 2, `${progress.length} progress reports`);
  t.equal(progress.at(-1)!.rawBytes, size, 'the final report carries the exact raw count');
  t.ok(progress.at(-1)!.done);

  // Restore through a program on the other end (dd writes a file).
  const out = path.join(dir, 'restored');
  const opened = openRestore(chunked(sink.data), { wrappingKey, expectedSha256: r.sha256, compression: 'zstd' }, deps);
  await feedTool(deps.runner, ['dd', `of=${out}`, 'bs=1M', 'status=none'], opened.output, new AbortController().signal);
  const result = await opened.result;
  t.equal(result.rawBytes, size, "restore's raw count is zstd's");
  t.ok(readFileSync(out).equals(expected), 'dd wrote exactly the bytes the tool produced');
  for (const c of deps.runner.spawned) t.ok(processGone(c.pid), `${path.basename(c.argv[0]!)} is gone`);
});

t.test('backup: a tool that fails after its last byte fails the backup with its reason; nothing committed', async (t) => {
  const deps = makeDeps();
  const sink = new MemorySink();
  const source = emitSource(deps.runner, 3 * 1024 * 1024, 2, 'mariadb-backup: failed to copy the redo log');
  await t.rejects(runBackup({ source, sink, wrappingKey, compression: 'zstd' }, deps), /code 2: mariadb-backup: failed to copy the redo log/);
  t.ok(sink.destroyed, 'sink destroyed (the store removes the partial object)');
  t.notOk(sink.finished, 'never finished');
  for (const c of deps.runner.spawned) t.ok(processGone(c.pid), `${path.basename(c.argv[0]!)} is gone`);
});

t.test('backup: zstd failing midway (fault injected: a stand-in zstd that exits 1) is the reported reason', async (t) => {
  const dir = tmp(t);
  const fake = path.join(dir, 'zstd');
  // Reads some input, complains, exits 1: what a real zstd does on a write error.
  writeFileSync(fake, `#!${process.execPath}\nprocess.stdin.once('data', () => { process.stderr.write('zstd: error 70 : Write error : cannot write block : No space left on device\\n'); process.exit(1); });\n`, { mode: 0o755 });
  const deps = { ...makeDeps(), zstdPath: fake };
  const sink = new MemorySink();
  const source = emitSource(deps.runner, 64 * 1024 * 1024);
  const err = await runBackup({ source, sink, wrappingKey, compression: 'zstd' }, deps).catch((e: unknown) => e);
  t.match(err, { message: /exited with code 1: zstd: error 70 : Write error/ });
  t.notOk(sink.finished);
  for (const c of deps.runner.spawned) t.ok(processGone(c.pid), `${path.basename(c.argv[0]!)} is gone (the tool died of the broken pipe or was stopped)`);
});

t.test('backup: cancelling stops zstd and the tool, and rejects as cancelled', async (t) => {
  const deps = makeDeps();
  const sink = new MemorySink();
  const source = emitSource(deps.runner, 2 * 1024 * 1024 * 1024);
  const ac = new AbortController();
  const err = await runBackup(
    { source, sink, wrappingKey, compression: 'zstd', signal: ac.signal, progressIntervalMs: 1, onProgress: (p) => p.storedBytes > 1024 * 1024 && ac.abort(new Error('the client went away')) },
    deps,
  ).catch((e: unknown) => e);
  t.match(err, ofKind('CANCELLED'));
  t.notOk(sink.finished);
  await Promise.all(deps.runner.spawned.map((c) => c.exited));
  for (const c of deps.runner.spawned) t.ok(processGone(c.pid), `${path.basename(c.argv[0]!)} is gone`);
});

t.test('restore: a truncated object handed to a tool; the tool exits 0 on EOF, the restore still fails', async (t) => {
  const dir = tmp(t);
  const deps = makeDeps();
  const sink = new MemorySink();
  const r = await runBackup({ source: emitSource(deps.runner, 8 * 1024 * 1024), sink, wrappingKey, compression: 'zstd' }, deps);
  const cut = sink.data.subarray(0, Math.floor(sink.data.length * 0.6));
  const opened = openRestore(chunked(cut), { wrappingKey, expectedSha256: r.sha256, compression: 'zstd' }, deps);
  const err = await feedTool(deps.runner, ['dd', `of=${path.join(dir, 'out')}`, 'bs=1M', 'status=none'], opened.output, new AbortController().signal).catch((e: unknown) => e);
  t.match(err, ofKind('INTEGRITY'), 'the truncation, not the tool, decides');
  await t.rejects(opened.result, ofKind('INTEGRITY'));
  for (const c of deps.runner.spawned) t.ok(processGone(c.pid), `${path.basename(c.argv[0]!)} is gone`);
});

t.test('restore: a tool that stops reading early fails the restore with its own reason; zstd is reaped', async (t) => {
  const deps = makeDeps();
  const sink = new MemorySink();
  const r = await runBackup({ source: emitSource(deps.runner, 16 * 1024 * 1024), sink, wrappingKey, compression: 'zstd' }, deps);
  const opened = openRestore(chunked(sink.data), { wrappingKey, expectedSha256: r.sha256, compression: 'zstd' }, deps);
  // head reads 1000 bytes and exits 0: it did not take the whole backup.
  const err = await feedTool(deps.runner, ['head', '-c', '1000'], opened.output, new AbortController().signal).catch((e: unknown) => e);
  t.ok(err instanceof Error, `refused: ${(err as Error).message}`);
  await opened.result.catch(() => undefined);
  for (const c of deps.runner.spawned) t.ok(processGone(c.pid), `${path.basename(c.argv[0]!)} is gone`);
});

t.test('the restore path (verify, then restore) reads a direct-path object like any other', async (t) => {
  const deps = makeDeps();
  const sink = new MemorySink();
  const size = 5 * 1024 * 1024 + 1;
  const r = await runBackup({ source: emitSource(deps.runner, size), sink, wrappingKey, compression: 'zstd' }, deps);
  const dest = new MemorySink();
  const res = await restoreObject({ open: () => chunked(sink.data), destination: dest, wrappingKey, expected: { sha256: r.sha256, compression: 'zstd' } }, deps);
  t.equal(res.rawBytes, size);
  t.equal(dest.bytes, size);
  t.ok(dest.finished);
});
