// A program's output handed to another program: the bytes go through an OS
// pipe between the two children, the output's completion decides whether
// what the reader got was whole, and a hand-off that would lose bytes is
// refused. Real programs (node running test/lib/fixtures/emit.mjs, cat,
// sha256sum) on both ends.
import { createHash } from 'node:crypto';
import { readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import t from 'tap';
import { createLogger } from '../../lib/logger.js';
import { ProcessRunner, type ChildHandle } from '../../lib/process-runner.js';
import { ProgramOutput } from '../../lib/program-output.js';
import { block } from './fixtures/emit.mjs';

const runner = new ProcessRunner(createLogger({ level: 'silent' }));
const EMIT = path.join(import.meta.dirname, 'fixtures', 'emit.mjs');

/** The bytes emit.mjs writes for `bytes`. */
function emitBytes(bytes: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0, n = 0; n < bytes; i++) {
    const b = (block(i) as Buffer).subarray(0, Math.min(65536, bytes - n));
    parts.push(b);
    n += b.length;
  }
  return Buffer.concat(parts);
}

function emitter(bytes: number, code = 0, message = ''): ChildHandle {
  return runner.spawn([process.execPath, EMIT, String(bytes), String(code), ...(message ? [message] : [])], { stdout: 'pipe', logOutput: false });
}

/** Completion as a strategy defines it: the program exited 0, else its stderr. */
function outputOf(child: ChildHandle, onAbandon?: () => void): ProgramOutput {
  const completion = child.exited.then((e) => {
    if (e.code !== 0) throw new Error(`emit exited with code ${e.code}: ${child.outputTail()}`);
  });
  return new ProgramOutput(child, { completion, onAbandon });
}

async function stdoutText(child: ChildHandle): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of child.stdout!) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * What a process's file descriptor is: "socket:[123456]" (Node's stdio
 * pipes are socket pairs, one end in each process) or "pipe:[...]".
 */
const fdLink = (pid: number, fd: number): string => readlinkSync(`/proc/${pid}/fd/${fd}`);

/** Every socket or pipe this process holds open. */
function ourChannels(): string[] {
  return readdirSync('/proc/self/fd')
    .map((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return '';
      }
    })
    .filter((l) => l.startsWith('pipe:') || l.startsWith('socket:'));
}

t.test('handed to another program, every byte arrives and none passes through this process', async (t) => {
  const size = 24 * 1024 * 1024 + 123;
  const expected = createHash('sha256').update(emitBytes(size)).digest('hex');
  const producer = emitter(size);
  const out = outputOf(producer);
  t.ok(out.canHandOff, 'an unread output can be handed on');
  const sum = runner.spawn(['sha256sum'], { stdin: out.handOff(), stdout: 'pipe', logOutput: false });
  t.equal(out.child.stdout, null, "this process gave up its end of the producer's stdout");
  // The channel between them: the producer's stdout end and the consumer's stdin end.
  const ends = [fdLink(producer.pid, 1), fdLink(sum.pid, 0)];
  const ours = ourChannels();
  t.same(ends.filter((e) => ours.includes(e)), [], `this process holds neither end (${ends.join(', ')}), so no byte can pass through it`);
  const [text] = await Promise.all([stdoutText(sum), out.completion, sum.exited]);
  t.equal(text.split(' ')[0], expected, 'sha256sum read exactly what the producer wrote');
});

t.test('read as a stream, it ends only once its completion resolved', async (t) => {
  const size = 3 * 65536 + 7;
  const out = outputOf(emitter(size));
  const chunks: Buffer[] = [];
  await pipeline(out, new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c), cb()) }));
  t.same(Buffer.concat(chunks), emitBytes(size));
  t.notOk(out.canHandOff, 'once read, it cannot be handed on');
  t.throws(() => out.handOff(), /already read and cannot be handed on/);
});

t.test('a producer that fails after writing everything: the reader sees the failure, not a clean end', async (t) => {
  const out = outputOf(emitter(200_000, 3, 'tool: disk full at the very end'));
  const err = await pipeline(out, new Writable({ write: (_c, _e, cb) => cb() })).catch((e: unknown) => e);
  t.match(err, { message: /code 3: tool: disk full at the very end/ });
});

t.test('a producer that fails, handed on: the consumer exits 0 on EOF, completion rejects with the reason', async (t) => {
  const out = outputOf(emitter(500_000, 4, 'tool: lost the connection'));
  const sum = runner.spawn(['sha256sum'], { stdin: out.handOff(), stdout: 'pipe', logOutput: false });
  const [, exit] = await Promise.all([stdoutText(sum), sum.exited]);
  t.equal(exit.code, 0, 'the consumer saw a plain end of input');
  await t.rejects(out.completion, /code 4: tool: lost the connection/, 'completion is what tells the owner');
});

t.test('bytes already taken into this process: the hand-off is refused instead of losing them', async (t) => {
  const child = emitter(10 * 65536);
  const out = outputOf(child);
  // Something read from the pipe into the paused stream's buffer (here: a
  // zero-length read, which makes Node fill the buffer up to its mark).
  child.stdout!.read(0);
  // Wait for the bytes to arrive (a loaded machine may take a while to run the emitter).
  for (const deadline = Date.now() + 120_000; child.stdout!.readableLength === 0 && Date.now() < deadline; ) {
    await new Promise((r) => setTimeout(r, 20));
  }
  t.ok(child.stdout!.readableLength > 0, `${child.stdout!.readableLength} bytes wait in this process`);
  t.notOk(out.canHandOff, 'buffered bytes make it unreleasable');
  t.throws(() => out.handOff(), /cannot be handed on/);
  // Read normally instead: all bytes are there.
  let n = 0;
  await pipeline(out, new Writable({ write: (c: Buffer, _e, cb) => ((n += c.length), cb()) }));
  t.equal(n, 10 * 65536);
});

t.test('a reader that goes away abandons the output: the owner stops the program', async (t) => {
  const child = emitter(64 * 1024 * 1024);
  let abandoned = 0;
  const out = outputOf(child, () => {
    abandoned += 1;
    void child.stop(1000);
  });
  const err = await pipeline(
    out,
    new Writable({
      write: (_c, _e, cb) => cb(new Error('the reader failed')),
    }),
  ).catch((e: unknown) => e);
  t.match(err, { message: 'the reader failed' });
  const exit = await child.exited;
  t.equal(abandoned, 1);
  t.not(exit.code, 0, `the producer was stopped (${JSON.stringify(exit)})`);
});

t.test('releaseStdout refuses a child whose stdout is not a pipe', async (t) => {
  const child = runner.spawn(['true'], { stdout: 'ignore' });
  t.throws(() => child.releaseStdout(), /cannot be handed on/);
  await child.exited;
});
