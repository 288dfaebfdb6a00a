// The shutdown sequence both mains use (lib/shutdown.ts), in a real child
// process sent real signals: the first runs the steps in order and exits 0
// (1 if a step failed or the deadline passed); a second exits at once.
import t from 'tap';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';

const CHILD = path.join(import.meta.dirname, 'fixtures', 'shutdown-child.ts');
// The TypeScript loader tap runs this test with, so the child runs from source too.
const LOADER = process.execArgv.filter((a) => a.includes('typescript'));

interface Child {
  readonly messages: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once a log line with this message has been seen. */
  saw(msg: string): Promise<void>;
  kill(signal: NodeJS.Signals): void;
}

function start(timeoutMs: number, mode: 'done' | 'fail' | 'hang'): Child {
  const proc = spawn(process.execPath, [...LOADER, CHILD, String(timeoutMs), mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  const messages: string[] = [];
  const waiters: Array<{ msg: string; resolve: () => void }> = [];
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    let msg = line;
    try {
      msg = String((JSON.parse(line) as { msg?: string }).msg);
    } catch {
      // not a log line
    }
    messages.push(msg);
    for (const w of waiters.filter((x) => x.msg === msg)) w.resolve();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    messages,
    exited,
    saw: (msg) =>
      messages.includes(msg)
        ? Promise.resolve()
        : Promise.race([
            new Promise<void>((resolve) => waiters.push({ msg, resolve })),
            exited.then(() => Promise.reject(new Error(`exited before logging "${msg}": ${JSON.stringify(messages)}`))),
          ]),
    kill: (signal) => proc.kill(signal),
  };
}

t.test('one SIGTERM: the steps run in order, each after the last has ended, and the process exits 0', async (t) => {
  const c = start(60_000, 'done');
  await c.saw('ready');
  c.kill('SIGTERM');
  t.same(await c.exited, { code: 0, signal: null });
  t.same(c.messages.slice(1), ['shutting down', 'one start', 'one end', 'shutdown step done', 'two start', 'two end', 'shutdown step done', 'stopped']);
});

t.test('a failing step is logged, the later steps still run, and the exit code is 1', async (t) => {
  const c = start(60_000, 'fail');
  await c.saw('ready');
  c.kill('SIGINT');
  t.same(await c.exited, { code: 1, signal: null });
  t.same(c.messages.slice(1), ['shutting down', 'one start', 'shutdown step failed', 'two start', 'two end', 'shutdown step done']);
});

t.test('a step that never ends: the deadline ends the process with 1', async (t) => {
  const c = start(500, 'hang');
  await c.saw('ready');
  c.kill('SIGTERM');
  t.same(await c.exited, { code: 1, signal: null });
  t.same(c.messages.slice(-2), ['two start', 'shutdown did not finish in time: exiting now']);
});

t.test('a second signal while a step hangs: the process exits at once, not 0', async (t) => {
  const c = start(600_000, 'hang');
  await c.saw('ready');
  c.kill('SIGTERM');
  await c.saw('two start');
  const asked = Date.now();
  c.kill('SIGINT');
  t.same(await c.exited, { code: 130, signal: null }, '128 + SIGINT');
  t.ok(Date.now() - asked < 60_000, 'long before the deadline');
  t.equal(c.messages.at(-1), 'second stop request: exiting now, without finishing the shutdown');
  t.notOk(c.messages.includes('stopped'));

  const d = start(600_000, 'hang');
  await d.saw('ready');
  d.kill('SIGINT');
  await d.saw('two start');
  d.kill('SIGTERM');
  t.same(await d.exited, { code: 143, signal: null }, '128 + SIGTERM');
});
